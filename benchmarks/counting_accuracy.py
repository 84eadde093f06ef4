"""Counting accuracy: the harness's forward MACs against published and closed-form counts.

1. Every torchvision classification model whose default weights carry `meta["_ops"]` (GMACs,
   torchvision's own dispatch-level count at batch 1 and the weights' crop size): target 0.1%.
   `_ops` is rounded to 3 decimals, so the script also reports the error beyond that rounding.
2. COCO detection models of the zoo against torchvision's `_ops`: the data-independent models
   (RetinaNet, SSD, FCOS) must match within 0.1%; for two-stage R-CNNs the script prints the
   data-independent part, the per-proposal and per-detection costs, the count at the nominal
   budget, and the (proposals, detections) that reproduce `_ops` (it was measured with trained
   weights on one image, so it carries that image's data-dependent counts).
3. NLP: BERT, RoBERTa, ALBERT, DistilBERT, XLNet, the Transformers, BiLSTM-CRF and GNMT against
   closed-form formulas written below from each model's hyperparameters: target 0.5%.

Run: .venv/bin/python benchmarks/counting_accuracy.py [--skip-detection] [--only PATTERN]
"""

from __future__ import annotations

import argparse
import fnmatch
import statistics
import sys
import time
import warnings

import torch
import torchvision

from harness.arch.loader import architecture_from_module_factory
from harness.arch.registry import list_architectures
from harness.counting.count import count_flops

warnings.filterwarnings("ignore")
tv = torchvision.models


# --------------------------------------------------------------------------------------------
# 1. torchvision classification vs meta["_ops"]
# --------------------------------------------------------------------------------------------


def torchvision_targets():
    """(name, resolution, builder kwargs, _ops GMACs) for every classification model with _ops."""
    for name in sorted(tv.list_models(module=tv)):
        weights = tv.get_model_weights(name).DEFAULT
        ops = weights.meta.get("_ops")
        if ops is None:
            continue
        crop = weights.transforms.keywords["crop_size"]
        crop = crop[0] if isinstance(crop, (list, tuple)) else crop
        kwargs = {}
        if name.startswith("vit_"):  # the SWAG weights fix the position table's size
            kwargs["image_size"] = weights.meta["min_size"][0]
        if name in ("googlenet", "inception_v3"):
            kwargs["init_weights"] = False
        yield name, int(crop), kwargs, float(ops)


def classification(pattern: str | None) -> list[tuple[str, float, float]]:
    print("== torchvision classification: forward GMACs at batch 1 vs meta['_ops'] ==")
    print(
        f"{'model':24s} {'res':>4s} {'ours':>11s} {'_ops':>10s} {'rel.err':>9s} {'beyond rounding':>16s} method"
    )
    rows = []
    for name, res, kwargs, ops in torchvision_targets():
        if pattern and not fnmatch.fnmatch(name, pattern):
            continue
        arch = architecture_from_module_factory(
            lambda name=name, kwargs=kwargs: tv.get_model(name, weights=None, **kwargs),
            name=name,
            input_shape=(1, 3, res, res),
        )
        r = count_flops(arch)
        ours = r.forward_gmacs_per_example
        err = abs(ours - ops) / ops
        beyond = max(0.0, abs(ours - ops) - 0.0005) / ops  # _ops has 3 decimals
        rows.append((name, err, beyond))
        print(f"{name:24s} {res:4d} {ours:11.5f} {ops:10.3f} {err:9.4%} {beyond:16.4%} {r.method}")
    if rows:
        errs = [e for _, e, _ in rows]
        beyond = [b for _, _, b in rows]
        worst = max(rows, key=lambda t: t[1])
        print(
            f"\n{len(rows)} models: max rel. error {max(errs):.4%} ({worst[0]}), median "
            f"{statistics.median(errs):.5%}; within 0.1%: {sum(e <= 1e-3 for e in errs)}/{len(rows)}; "
            f"beyond _ops' 3-decimal rounding: max {max(beyond):.4%}, "
            f"{sum(b <= 1e-3 for b in beyond)}/{len(rows)} within 0.1%"
        )
    return rows


# --------------------------------------------------------------------------------------------
# 2. detection
# --------------------------------------------------------------------------------------------


def detection(pattern: str | None) -> list[tuple[str, float]]:
    print(
        "\n== COCO detection (zoo architectures, batch 1, default size) vs torchvision meta['_ops'] =="
    )
    rows = []
    for arch in list_architectures(benchmark="coco"):
        if pattern and not fnmatch.fnmatch(arch.name, pattern):
            continue
        try:
            ops = float(tv.get_model_weights(arch.name).DEFAULT.meta["_ops"])
        except (ValueError, KeyError):
            ops = arch.published_gmacs
        t0 = time.perf_counter()
        r = count_flops(arch, batch_size=1)
        d = r.detection
        ours = r.forward_gmacs_per_example
        line = f"{arch.name:38s} _ops {ops:9.3f}  measured {ours:9.3f}"
        if d is None:
            err = abs(ours - ops) / ops
            rows.append((arch.name, err))
            print(
                f"{line}  rel.err {err:.4%}  (data-independent)  [{r.method}, {time.perf_counter() - t0:.0f}s]"
            )
            continue
        indep = d.data_independent_macs_per_example / 1e9
        implied = _implied(ops * 1e9, d)
        print(
            f"{line}  data-independent {indep:9.3f}  nominal {d.nominal_macs_per_example / 1e9:9.3f} "
            f"(budget {d.proposal_budget} proposals x {d.per_proposal_macs / 1e6:.2f}M"
            + (
                f" + {d.detection_budget} detections x {d.per_detection_macs / 1e6:.1f}M"
                if d.per_detection_macs
                else ""
            )
            + f"; this run processed {d.proposals_per_example:g} proposals, {d.detections_per_example:g} detections)"
            f"  _ops = independent + {implied}  [{r.method}, {time.perf_counter() - t0:.0f}s]"
        )
    if rows:
        print(
            f"data-independent detectors: max rel. error {max(e for _, e in rows):.4%} "
            f"({max(rows, key=lambda t: t[1])[0]}); within 0.1%: {sum(e <= 1e-3 for _, e in rows)}/{len(rows)}"
        )
    return rows


def _implied(ops_macs: float, d) -> str:
    """The (proposals, detections) within budget that reproduce `_ops` to its 3 decimals,
    preferring a full proposal budget (the RPN usually fills it), or else the closest."""
    candidates = []
    for p in range(d.proposal_budget + 1):
        rest = ops_macs - d.data_independent_macs_per_example - p * d.per_proposal_macs
        k = round(rest / d.per_detection_macs) if d.per_detection_macs else 0
        k = min(max(k, 0), d.detection_budget)
        total = (
            d.data_independent_macs_per_example + p * d.per_proposal_macs + k * d.per_detection_macs
        )
        candidates.append((abs(total - ops_macs), p, k))
    within = [c for c in candidates if c[0] <= 0.5e6]  # _ops is rounded to 0.001 GMACs
    err, p, k = max(within, key=lambda c: (c[1], -c[2])) if within else min(candidates)
    return (
        f"{p} proposals"
        + (f" + {k} detections" if d.per_detection_macs else "")
        + f" ({err / ops_macs:.4%})"
    )


# --------------------------------------------------------------------------------------------
# 3. NLP closed forms (per example, forward, MACs)
# --------------------------------------------------------------------------------------------


def encoder_layer(length: int, hidden: int, inner: int) -> int:
    """Q, K, V, O projections (4 H^2), the FFN (2 H I) per token; QK^T and PV (2 L H) per token."""
    return length * (4 * hidden * hidden + 2 * hidden * inner) + 2 * length * length * hidden


def bert_like(model, length: int) -> int:
    """BERT / RoBERTa / ALBERT / DistilBERT encoders with a per-token head."""
    c = model.config
    hidden = getattr(c, "hidden_size", None) or c.dim
    layers = getattr(c, "num_hidden_layers", None) or c.n_layers
    inner = getattr(c, "intermediate_size", None) or c.hidden_dim
    total = layers * encoder_layer(length, hidden, inner)
    if c.model_type == "albert":  # factorised embedding: E -> H projection per token
        total += length * c.embedding_size * hidden
    head = getattr(model, "qa_outputs", None) or getattr(model, "classifier", None)
    return total + length * hidden * head.out_features


def xlnet_qa(model, length: int, segments: bool) -> int:
    """XLNet (two-stream attention off: fine-tuning) with XLNet's SQuAD head, inference.

    Per layer: Q, K, V, O (4 d^2 per token); the relative-position keys project the 2L
    sinusoidal positions for every batch element (2L d^2); content (ac, L^2 d) and position (bd,
    L x 2L x d) scores; segment scores (2 L d + 2 n L^2); PV (L^2 d); FFN (2 d d_inner).
    (The sinusoid table is an outer product: multiplies, no multiply-adds.) Head: start logits
    (L d), end logits for the top-5
    starts (5 L (2 d^2 + d)), start-state pooling (L d), answer class (2 d^2 + d).
    """
    c = model.config
    d, n, layers, inner = c.d_model, c.n_head, c.n_layer, c.d_inner
    L = length
    per_layer = (
        L * 4 * d * d + 2 * L * d * d + L * L * d + 2 * L * L * d + L * L * d + 2 * L * d * inner
    )
    if segments:
        per_layer += 2 * L * d + 2 * n * L * L
    top = c.start_n_top
    head = L * d + top * L * (2 * d * d + d) + L * d + (2 * d * d + d)
    return layers * per_layer + head


def transformer_nmt(model, src: int, tgt: int) -> int:
    """Encoder layers on src tokens, decoder layers (self, cross, FFN) on tgt tokens, tied
    output projection; attention 2 L_q L_k d per layer and attention block."""
    d = model.d_model
    enc_layers = model.transformer.encoder.layers
    dec_layers = model.transformer.decoder.layers
    ff = enc_layers[0].linear1.out_features
    vocab = model.embedding.num_embeddings
    enc = len(enc_layers) * encoder_layer(src, d, ff)
    dec_one = tgt * 4 * d * d + 2 * tgt * tgt * d  # self-attention
    dec_one += (
        tgt * 2 * d * d + src * 2 * d * d + 2 * tgt * src * d
    )  # cross: Q,O on tgt, K,V on src
    dec_one += 2 * tgt * d * ff
    return enc + len(dec_layers) * dec_one + tgt * d * vocab


def lstm_layer(tokens: int, inp: int, hidden: int, directions: int = 1) -> int:
    """4 gates x H x (input + H) MACs per token and direction."""
    return tokens * directions * 4 * hidden * (inp + hidden)


def gnmt(model, src: int, tgt: int) -> int:
    h = model.classifier.in_features
    vocab = model.classifier.out_features
    n_enc, n_dec = len(model.encoder), len(model.decoder)
    enc = lstm_layer(src, h, h, 2) + lstm_layer(src, 2 * h, h) + (n_enc - 2) * lstm_layer(src, h, h)
    dec = lstm_layer(tgt, h, h) + (n_dec - 1) * lstm_layer(tgt, 2 * h, h)
    # additive attention: W_q on queries, W_k on keys, v^T on every (query, key) pair, then PV
    attn = tgt * h * h + src * h * h + tgt * src * h + tgt * src * h
    return enc + dec + attn + tgt * h * vocab


def bilstm_crf(model, words: int, width: int) -> int:
    """Character BiLSTM over every word's characters, word BiLSTM, tanh layer, tag layer; the
    CRF's Viterbi decoding adds and compares (no multiply-adds)."""
    cl, wl = model.char_lstm, model.word_lstm
    chars = lstm_layer(words * width, cl.input_size, cl.hidden_size, 2)
    word = lstm_layer(words, wl.input_size, wl.hidden_size, 2)
    hid, out = model.hidden_layer, model.output_layer
    return (
        chars
        + word
        + words * (hid.in_features * hid.out_features + out.in_features * out.out_features)
    )


def nlp_formula(arch, model, batch) -> int | None:
    family = arch.family or arch.name
    if hasattr(model, "config") and getattr(model.config, "model_type", "") == "xlnet":
        return xlnet_qa(model, batch.kwargs["input_ids"].shape[1], "token_type_ids" in batch.kwargs)
    if hasattr(model, "config"):
        return bert_like(model, batch.kwargs["input_ids"].shape[1])
    kind = type(model).__name__
    if kind == "TransformerNMT":
        return transformer_nmt(model, batch.args[0].shape[1], batch.args[1].shape[1])
    if kind == "GNMT":
        return gnmt(model, batch.args[0].shape[1], batch.args[1].shape[1])
    if kind == "BiLSTMCRF":
        words, chars = batch.args[0], batch.args[1]
        return bilstm_crf(model, words.shape[1], chars.shape[2])
    del family
    return None


def nlp(pattern: str | None) -> list[tuple[str, float]]:
    print("\n== NLP: forward MACs per example (batch 1, default length) vs closed-form formulas ==")
    rows = []
    for arch in list_architectures(domain="nlp"):
        if pattern and not fnmatch.fnmatch(arch.name, pattern):
            continue
        with torch.device("meta"):
            model = arch.build()
        batch = arch.example_batch(1, device="meta")
        expected = nlp_formula(arch, model, batch)
        if expected is None:
            print(f"{arch.name:26s} (no closed form written for {type(model).__name__})")
            continue
        r = count_flops(arch)
        err = abs(r.forward_macs_per_example - expected) / expected
        rows.append((arch.name, err))
        print(
            f"{arch.name:26s} L={arch.default_size:4d} ours {r.forward_macs_per_example / 1e9:10.4f} "
            f"formula {expected / 1e9:10.4f} GMACs  rel.err {err:.5%}  [{r.method}]"
        )
    if rows:
        errs = [e for _, e in rows]
        worst = max(rows, key=lambda t: t[1])
        print(
            f"{len(rows)} models: max rel. error {max(errs):.5%} ({worst[0]}), median "
            f"{statistics.median(errs):.5%}; within 0.5%: {sum(e <= 5e-3 for e in errs)}/{len(rows)}"
        )
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", help="glob over model names")
    p.add_argument(
        "--skip-detection", action="store_true", help="skip COCO (real-CPU fallback, slow)"
    )
    p.add_argument("--skip-classification", action="store_true")
    p.add_argument("--skip-nlp", action="store_true")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    ok = True
    if not args.skip_classification:
        rows = classification(args.only)
        ok &= all(b <= 1e-3 for _, _, b in rows)
    if not args.skip_detection:
        rows = detection(args.only)
        ok &= all(e <= 1e-3 for _, e in rows)
    if not args.skip_nlp:
        rows = nlp(args.only)
        ok &= all(e <= 5e-3 for _, e in rows)
    print(
        f"\n{'all targets met' if ok else 'SOME TARGETS MISSED'} ({time.perf_counter() - t0:.0f} s)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

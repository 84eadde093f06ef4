"""WMT 2014 English-German and English-French translation: Transformer base/big and GNMT.

An example is one sentence pair; `size` is the length of both the source and the (shifted)
target in subword tokens. The default, 32 tokens, is an assumption (a typical WMT sentence after
BPE), not a published figure; the training recipes are derived so that the projected run
processes the published number of tokens whatever the length chosen here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from harness.arch.registry import register
from harness.arch.spec import Architecture, Batch, OptimizerSpec, TrainingRecipe, random_int
from models import _nlp
from models.nets.gnmt import GNMT
from models.nets.transformer import TransformerNMT

SEQ_LEN = 32
TINY_SEQ_LEN = 16
TINY_VOCAB = 1000

# Vaswani et al. arXiv:1706.03762 Sec. 5.1
LANGS = {
    "en_de": {
        "benchmark": "wmt14_en_de",
        "pairs": 4_500_000,
        "vocab": 37_000,
        "data": "WMT 2014 En-De: about 4.5 million sentence pairs, byte-pair encoding with a shared "
        "source-target vocabulary of about 37000 tokens (Vaswani et al. arXiv:1706.03762 Sec. 5.1)",
    },
    "en_fr": {
        "benchmark": "wmt14_en_fr",
        "pairs": 36_000_000,
        "vocab": 32_000,
        "data": "WMT 2014 En-Fr: 36M sentences, 32000 word-piece vocabulary (Vaswani et al. "
        "arXiv:1706.03762 Sec. 5.1)",
    },
}


def _translation_batch(vocab: int) -> Callable[..., Batch]:
    """Source ids, shifted target ids (decoder input) and next-token targets, all `size` long."""

    def factory(batch_size, size, *, tiny, device, dtype, generator) -> Batch:
        v = TINY_VOCAB if tiny else vocab
        src = random_int(v, (batch_size, size), device, generator)
        tgt = random_int(v, (batch_size, size + 1), device, generator)
        return Batch(args=(src, tgt[:, :-1]), kwargs={}, targets=tgt[:, 1:], size=batch_size)

    return factory


def _smoothed_loss(smoothing: float) -> Callable[[nn.Module, Batch], torch.Tensor]:
    def loss(model: nn.Module, batch: Batch) -> torch.Tensor:
        logits = model(*batch.args)
        return nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(),
            batch.targets.reshape(-1),
            label_smoothing=smoothing,
        )

    return loss


# --------------------------------------------------------------------------------------------
# Transformer (Vaswani et al. 2017)
# --------------------------------------------------------------------------------------------

TOKENS_PER_BATCH = 25_000  # "approximately 25000 source tokens and 25000 target tokens" (Sec. 5.1)
WARMUP = 4000  # Sec. 5.3
# arXiv:1706.03762 Table 3 (base, big); big's dropout is 0.3, 0.1 for En-Fr (Sec. 6.1)
SIZES = {
    "base": {
        "d_model": 512,
        "dim_feedforward": 2048,
        "nhead": 8,
        "dropout": 0.1,
        "steps": 100_000,
        "row": "Transformer (base)",
    },
    "big": {
        "d_model": 1024,
        "dim_feedforward": 4096,
        "nhead": 16,
        "dropout": 0.3,
        "steps": 300_000,
        "row": "Transformer (big)",
    },
}
TINY_TRANSFORMER = {
    "vocab_size": TINY_VOCAB,
    "d_model": 32,
    "nhead": 2,
    "num_encoder_layers": 2,
    "num_decoder_layers": 2,
    "dim_feedforward": 64,
    "dropout": 0.1,
}


def _transformer_recipe(size: str, lang: str) -> TrainingRecipe:
    """Published steps x tokens per batch, expressed as epochs of `SEQ_LEN`-token sentences."""
    s, data = SIZES[size], LANGS[lang]
    tokens = s["steps"] * TOKENS_PER_BATCH
    return _nlp.row_recipe(
        data["benchmark"],
        s["row"],
        epochs=round(tokens / (data["pairs"] * SEQ_LEN), 3),
        examples_per_epoch=data["pairs"],
        batch_size=TOKENS_PER_BATCH // SEQ_LEN,
        precision="fp32",
        citation=f"Vaswani et al. arXiv:1706.03762 Sec. 5.1-5.2 ({s['steps']:,} steps of about "
        f"{TOKENS_PER_BATCH:,} source + {TOKENS_PER_BATCH:,} target tokens); batch = "
        f"{TOKENS_PER_BATCH:,} / {SEQ_LEN} tokens per sentence and epochs = steps x tokens per "
        f"batch / (pairs x {SEQ_LEN}) (derived: the same token count); {data['data']}",
    )


for _lang, _data in LANGS.items():
    for _size, _s in SIZES.items():
        _dropout = 0.1 if (_size == "big" and _lang == "en_fr") else _s["dropout"]
        _full = {
            "vocab_size": _data["vocab"],
            "d_model": _s["d_model"],
            "nhead": _s["nhead"],
            "num_encoder_layers": 6,
            "num_decoder_layers": 6,
            "dim_feedforward": _s["dim_feedforward"],
            "dropout": _dropout,
        }
        _peak_lr = _s["d_model"] ** -0.5 * WARMUP**-0.5
        _row = _s["row"]
        register(
            Architecture(
                name=f"transformer_{_size}_{_lang}",
                domain="nlp",
                task="translation",
                benchmark=_data["benchmark"],
                year=2017,
                builder=lambda cfg=_full: TransformerNMT(**cfg),
                tiny_builder=lambda: TransformerNMT(**TINY_TRANSFORMER),
                batch_factory=_translation_batch(_data["vocab"]),
                loss_fn=_smoothed_loss(0.1),
                loss_name="label-smoothed cross-entropy (0.1, Vaswani et al. Sec. 5.4)",
                optimizer=OptimizerSpec(
                    "adam",
                    round(_peak_lr, 7),
                    {"betas": (0.9, 0.98), "eps": 1e-9},
                    citation="Vaswani et al. arXiv:1706.03762 Sec. 5.3 (Adam, beta1 0.9, beta2 "
                    "0.98, eps 1e-9; lr = d_model^-0.5 x min(step^-0.5, step x 4000^-1.5), "
                    "given here at its peak, step 4000)",
                ),
                size_kind="seq_len",
                default_size=SEQ_LEN,
                tiny_size=TINY_SEQ_LEN,
                reference=_nlp.row_reference(_data["benchmark"], _row),
                recipe=_transformer_recipe(_size, _lang),
                # Table 3's counts are for the En-De model (37k vocabulary); none for En-Fr
                published_params=_nlp.row_params("wmt14_en_de", _row) if _lang == "en_de" else None,
                published_source=f"Vaswani et al. arXiv:1706.03762 Table 3 (Transformer {_size}, "
                "En-De), via wmt14_en_de.csv"
                if _lang == "en_de"
                else "",
                family="transformer",
                description=f"Transformer {_size} (d_model {_s['d_model']}, FFN "
                f"{_s['dim_feedforward']}, {_s['nhead']} heads, 6+6 layers, dropout {_dropout}), "
                f"shared {_data['vocab']} vocabulary, tied embeddings",
                tags=frozenset({"paper"}),
                source=__name__,
            )
        )


# --------------------------------------------------------------------------------------------
# GNMT (Wu et al. 2016)
# --------------------------------------------------------------------------------------------

GNMT_VOCAB = 32_000  # a shared 32K wordpiece vocabulary (Wu et al. Sec. 4.1, 8.1)
GNMT_BATCH = 128
GNMT_DROPOUT = {"en_de": 0.3, "en_fr": 0.2}
TINY_GNMT = {"vocab_size": TINY_VOCAB, "hidden": 32, "encoder_layers": 3, "decoder_layers": 3}
GNMT_CITATION = (
    "Wu et al. arXiv:1609.08144 Sec. 8.1 (batch 128 sentence pairs; Adam at lr 0.0002 for the "
    "first 60k steps, then SGD at 0.5; dropout 0.2 En-Fr, 0.3 En-De; total steps or epochs not "
    "restated here) - memory"
)

for _lang, _data in LANGS.items():
    _gnmt_full = {"vocab_size": GNMT_VOCAB, "dropout": GNMT_DROPOUT[_lang]}
    _row = "GNMT (word pieces, single)"
    register(
        Architecture(
            name=f"gnmt_{_lang}",
            domain="nlp",
            task="translation",
            benchmark=_data["benchmark"],
            year=2016,
            builder=lambda cfg=_gnmt_full: GNMT(**cfg),
            tiny_builder=lambda: GNMT(**TINY_GNMT),
            batch_factory=_translation_batch(GNMT_VOCAB),
            loss_fn=_smoothed_loss(0.0),
            loss_name="cross-entropy (the maximum-likelihood objective, Wu et al. Sec. 5)",
            optimizer=OptimizerSpec("adam", 2e-4, citation=GNMT_CITATION),
            size_kind="seq_len",
            default_size=SEQ_LEN,
            tiny_size=TINY_SEQ_LEN,
            reference=_nlp.row_reference(_data["benchmark"], _row),
            recipe=_nlp.row_recipe(
                _data["benchmark"],
                _row,
                epochs=None,
                examples_per_epoch=_data["pairs"],
                batch_size=GNMT_BATCH,
                precision="fp32",
                citation=f"{GNMT_CITATION}; {_data['data']}",
            ),
            family="gnmt",
            description="GNMT: 8 LSTM encoder layers (bottom bidirectional) and 8 decoder layers "
            "of 1024 units, residual from layer 3, additive attention, 32k shared wordpieces",
            tags=frozenset({"paper", "rnn"}),
            source=__name__,
        )
    )

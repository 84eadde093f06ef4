"""The NLP zoo: parameter counts against formulas from the published hyperparameters, the CRF
against brute-force enumeration, network shapes, citations, recipes, and meta-device builds."""

from __future__ import annotations

import csv
import itertools
import subprocess
import sys

import pytest
import torch

from harness.arch.registry import get, list_architectures
from harness.data import REFERENCE_DIR
from harness.errors import ConfigurationError
from models.nets.bidaf import BiDAF
from models.nets.bilstm_crf import CRF, BiLSTMCRF
from models.nets.gnmt import GNMT
from models.nets.transformer import TransformerNMT

# the benchmark networks; decoder language models (no benchmark) are tested in test_zoo_lm.py
NLP = [a.name for a in list_architectures(domain="nlp") if a.benchmark is not None]


def meta_params(name: str) -> int:
    """Parameters of the full-size network, counted without allocating it."""
    with torch.device("meta"):
        model = get(name).build()
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------------------------
# Parameter counts from published hyperparameters
# --------------------------------------------------------------------------------------------


def attention(d: int) -> int:
    return 4 * d * d + 4 * d  # Q, K, V, output projections with biases


def ffn(d: int, ff: int) -> int:
    return 2 * d * ff + d + ff


def layer_norm(d: int) -> int:
    return 2 * d


def bert(vocab: int, d: int, layers: int, ff: int, head_outputs: int) -> int:
    """BERT (arXiv:1810.04805 Sec. 3) without the pooler, plus a linear head on each token."""
    embeddings = vocab * d + 512 * d + 2 * d + layer_norm(d)  # tokens, positions, segments
    layer = attention(d) + layer_norm(d) + ffn(d, ff) + layer_norm(d)
    return embeddings + layers * layer + d * head_outputs + head_outputs


def transformer(vocab: int, d: int, ff: int, layers: int = 6) -> int:
    """Vaswani et al. Table 3 shapes; one shared embedding (also the output projection)."""
    encoder = layers * (attention(d) + ffn(d, ff) + 2 * layer_norm(d)) + layer_norm(d)
    decoder = layers * (2 * attention(d) + ffn(d, ff) + 3 * layer_norm(d)) + layer_norm(d)
    return vocab * d + encoder + decoder  # final norms: torch.nn.Transformer adds one per stack


def lstm(inputs: int, hidden: int) -> int:
    """One direction of one torch LSTM layer: 4 gates, input and recurrent weights, two biases."""
    return 4 * hidden * (inputs + hidden) + 8 * hidden


@pytest.mark.parametrize(
    ("name", "d", "layers", "ff", "outputs"),
    [
        ("bert_base_squad", 768, 12, 3072, 2),
        ("bert_large_squad", 1024, 24, 4096, 2),
        ("bert_base_conll", 768, 12, 3072, 9),
        ("bert_large_conll", 1024, 24, 4096, 9),
    ],
)
def test_bert_parameter_count_matches_formula(name, d, layers, ff, outputs):
    assert meta_params(name) == bert(30522, d, layers, ff, outputs)


@pytest.mark.parametrize(
    ("name", "vocab", "d", "ff"),
    [
        ("transformer_base_en_de", 37000, 512, 2048),
        ("transformer_big_en_de", 37000, 1024, 4096),
        ("transformer_base_en_fr", 32000, 512, 2048),
        ("transformer_big_en_fr", 32000, 1024, 4096),
    ],
)
def test_transformer_parameter_count_matches_formula(name, vocab, d, ff):
    assert meta_params(name) == transformer(vocab, d, ff)


@pytest.mark.parametrize(
    ("name", "published", "tolerance"),
    [
        # Vaswani et al. Table 3: 65M and 213M (En-De); BERT Sec. 3: 110M and 340M (with pooler)
        ("transformer_base_en_de", 65e6, 0.05),
        ("transformer_big_en_de", 213e6, 0.01),
        ("bert_base_squad", 110e6, 0.02),
        ("bert_large_squad", 340e6, 0.02),
    ],
)
def test_counts_are_close_to_the_published_figures(name, published, tolerance):
    assert get(name).published_params == published
    assert abs(meta_params(name) - published) / published < tolerance


def test_gnmt_parameter_count_matches_its_description():
    v, h = 32000, 1024
    encoder = 2 * lstm(h, h) + lstm(2 * h, h) + 6 * lstm(h, h)  # bidirectional bottom layer
    decoder = lstm(h, h) + 7 * lstm(2 * h, h)  # layers 2-8 read [output; attention context]
    attention_net = h * h + (h * h + h) + h  # W_q, W_k (+bias), v
    expected = 2 * v * h + encoder + decoder + attention_net + h * v + v
    assert meta_params("gnmt_en_de") == expected


def test_bidaf_parameter_count_matches_its_description():
    d, words = 100, 100
    expected = (
        400_000 * words  # fixed GloVe-sized word vectors
        + 256 * 8
        + (8 * 100 * 5 + 100)  # characters: embedding, 100 filters of width 5
        + 2 * 2 * (200 * 200 + 200)  # two highway layers (transform and gate)
        + 2 * lstm(200, d)  # contextual BiLSTM
        + 3 * 2 * d  # similarity weights w in R^{6d}
        + 2 * lstm(8 * d, d)
        + 2 * lstm(2 * d, d)  # two-layer modelling BiLSTM
        + 2 * lstm(2 * d, d)  # BiLSTM for the end position
        + 2 * (10 * d + 1)  # p1, p2
    )
    assert meta_params("bidaf_squad") == expected


# --------------------------------------------------------------------------------------------
# The CRF against brute force
# --------------------------------------------------------------------------------------------


def brute_force_score(emissions, transitions, start, end, tags):
    s = start[tags[0]] + emissions[0, tags[0]]
    for t in range(1, len(tags)):
        s = s + transitions[tags[t - 1], tags[t]] + emissions[t, tags[t]]
    return s + end[tags[-1]]


@pytest.mark.parametrize("lengths", [(4, 4), (4, 2), (1, 3)])
def test_crf_nll_and_viterbi_match_enumeration_of_all_tag_sequences(lengths):
    torch.manual_seed(0)
    num_tags, max_len = 3, max(lengths)
    crf = CRF(num_tags).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    emissions = torch.randn(len(lengths), max_len, num_tags, dtype=torch.float64)
    mask = torch.tensor([[t < n for t in range(max_len)] for n in lengths])
    gold = torch.randint(0, num_tags, (len(lengths), max_len))
    nll = crf.neg_log_likelihood(emissions, gold, mask)
    best = crf.decode(emissions, mask)
    for b, n in enumerate(lengths):
        args = (emissions[b, :n], crf.transitions, crf.start_transitions, crf.end_transitions)
        paths = list(itertools.product(range(num_tags), repeat=n))
        scores = torch.stack([brute_force_score(*args, p) for p in paths])
        expected = torch.logsumexp(scores, 0) - brute_force_score(*args, gold[b, :n].tolist())
        assert nll[b].item() == pytest.approx(expected.item(), rel=1e-9, abs=1e-9)
        assert tuple(best[b, :n].tolist()) == paths[int(scores.argmax())]


def test_bilstm_crf_loss_is_the_mean_crf_nll_of_its_emissions():
    torch.manual_seed(0)
    model = BiLSTMCRF(
        word_vocab=50, char_vocab=20, num_tags=9, word_dim=8, char_dim=4, char_hidden=3, hidden=5
    ).eval()
    words, chars = torch.randint(0, 50, (2, 6)), torch.randint(0, 20, (2, 6, 4))
    tags = torch.randint(0, 9, (2, 6))
    emissions = model.emissions(words, chars)
    assert emissions.shape == (2, 6, 9)
    expected = model.crf.neg_log_likelihood(emissions, tags).mean()
    assert model.loss(words, chars, tags).item() == pytest.approx(expected.item())
    assert model(words, chars).shape == (2, 6)


# --------------------------------------------------------------------------------------------
# Shapes of the hand-written networks
# --------------------------------------------------------------------------------------------


def test_gnmt_shapes_and_structure():
    model = GNMT(vocab_size=50, hidden=8, encoder_layers=8, decoder_layers=8)
    src, tgt = torch.randint(0, 50, (3, 5)), torch.randint(0, 50, (3, 7))
    assert model.encode(src).shape == (3, 5, 8)
    assert model(src, tgt).shape == (3, 7, 50)
    assert [m.bidirectional for m in model.encoder] == [True] + [False] * 7
    assert [m.input_size for m in model.encoder] == [8, 16] + [8] * 6
    assert [m.input_size for m in model.decoder] == [8] + [16] * 7  # [output; context]


def test_bidaf_shapes_and_fixed_word_vectors():
    model = BiDAF(word_vocab=40, char_vocab=10, word_dim=6, char_dim=3, char_filters=4, hidden=5)
    cw, cc = torch.randint(0, 40, (2, 11)), torch.randint(0, 10, (2, 11, 7))
    qw, qc = torch.randint(0, 40, (2, 4)), torch.randint(0, 10, (2, 4, 7))
    start, end = model(cw, cc, qw, qc)
    assert start.shape == end.shape == (2, 11)
    (start.sum() + end.sum()).backward()
    assert model.word_embedding.weight.grad is None  # GloVe vectors are not trained
    assert model.char_cnn.embedding.weight.grad is not None


def test_transformer_is_causal_and_ties_embeddings():
    torch.manual_seed(0)
    model = TransformerNMT(
        vocab_size=30,
        d_model=16,
        nhead=2,
        num_encoder_layers=1,
        num_decoder_layers=1,
        dim_feedforward=32,
        dropout=0.0,
    ).eval()
    src, tgt = torch.randint(0, 30, (2, 5)), torch.randint(0, 30, (2, 6))
    out = model(src, tgt)
    assert out.shape == (2, 6, 30)
    changed = tgt.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 30  # a later token must not change earlier outputs
    assert torch.allclose(model(src, changed)[:, :-1], out[:, :-1], atol=1e-6)
    params = dict(model.named_parameters())
    assert "embedding.weight" in params and not any(
        p.shape == (30, 16) for n, p in params.items() if n != "embedding.weight"
    )


# --------------------------------------------------------------------------------------------
# Registry records: citations, recipes, conventions
# --------------------------------------------------------------------------------------------

ROWS = {
    "bert_base_squad": ("squad11", "BERT-Base (single, dev)"),
    "bert_large_squad": ("squad11", "BERT-Large (single, +TriviaQA, test)"),
    "roberta_large_squad": ("squad11", "RoBERTa-Large (single, dev)"),
    "xlnet_large_squad": ("squad11", "XLNet-Large (single, test)"),
    "bidaf_squad": ("squad11", "BiDAF (single)"),
    "bilstm_crf_conll": ("conll03", "LSTM-CRF (Lample et al.)"),
    "bert_base_conll": ("conll03", "BERT-Base"),
    "bert_large_conll": ("conll03", "BERT-Large"),
    "transformer_base_en_de": ("wmt14_en_de", "Transformer (base)"),
    "transformer_big_en_de": ("wmt14_en_de", "Transformer (big)"),
    "transformer_base_en_fr": ("wmt14_en_fr", "Transformer (base)"),
    "transformer_big_en_fr": ("wmt14_en_fr", "Transformer (big)"),
    "gnmt_en_de": ("wmt14_en_de", "GNMT (word pieces, single)"),
    "gnmt_en_fr": ("wmt14_en_fr", "GNMT (word pieces, single)"),
}


def csv_row(benchmark: str, model: str) -> dict[str, str]:
    with open(REFERENCE_DIR / f"{benchmark}.csv", newline="", encoding="utf-8") as f:
        return next(r for r in csv.DictReader(f) if r["model"] == model)


def test_the_nlp_zoo_covers_its_benchmarks():
    assert len(NLP) >= 20
    by_benchmark = {
        b: {a.name for a in list_architectures(benchmark=b)}
        for b in ("squad11", "conll03", "wmt14_en_de", "wmt14_en_fr")
    }
    assert len(by_benchmark["squad11"]) >= 9 and len(by_benchmark["conll03"]) >= 4
    assert {"transformer_base_en_de", "transformer_big_en_de", "gnmt_en_de"} <= by_benchmark[
        "wmt14_en_de"
    ]
    assert {"transformer_base_en_fr", "transformer_big_en_fr", "gnmt_en_fr"} <= by_benchmark[
        "wmt14_en_fr"
    ]


@pytest.mark.parametrize("name", NLP)
def test_every_nlp_spec_cites_its_reference_metric_and_recipe(name):
    arch = get(name)
    ref = arch.reference
    assert ref is not None and ref.name in {"f1", "bleu"} and 0 < ref.value < 100
    assert len(ref.citation) > 20 and ("arXiv" in ref.citation or "README" in ref.citation)
    assert arch.optimizer.citation and arch.recipe.citation
    assert arch.year and arch.family and arch.description
    assert arch.recipe.examples_per_epoch in {87_599, 14_041, 4_500_000, 36_000_000}
    if arch.published_params is not None:
        assert arch.published_source


@pytest.mark.parametrize(("name", "row"), ROWS.items())
def test_published_rows_are_copied_with_their_citation(name, row):
    arch = get(name)
    expected = csv_row(*row)
    assert arch.reference.value == float(expected["value"])
    assert expected["source"] in arch.reference.citation
    assert "paper" in arch.tags  # a published point the paper-style regression can use
    if expected["train_hours"]:
        assert arch.recipe.train_hours == float(expected["train_hours"])
        assert arch.recipe.processor_count == int(expected["processor_count"])


def test_recipe_processors_are_known_to_the_processor_table():
    with open(REFERENCE_DIR / "processor_aliases.csv", newline="", encoding="utf-8") as f:
        known = {r["alias"] for r in csv.DictReader(f)}
    with open(REFERENCE_DIR / "processors.csv", newline="", encoding="utf-8") as f:
        known |= {r["processor_type"] for r in csv.DictReader(f)}
    for name in NLP:
        processor = get(name).recipe.processor_type
        assert processor is None or processor in known, (name, processor)


@pytest.mark.parametrize(("size", "steps"), [("base", 100_000), ("big", 300_000)])
def test_transformer_recipes_reproduce_the_published_token_count(size, steps):
    for lang in ("en_de", "en_fr"):
        arch = get(f"transformer_{size}_{lang}")
        r = arch.recipe
        tokens = r.epochs * r.examples_per_epoch * arch.default_size
        assert tokens == pytest.approx(steps * 25_000, rel=1e-3)  # steps x 25k source tokens
        assert r.steps() == pytest.approx(steps, rel=2e-3)
    assert get(f"transformer_{size}_en_de").optimizer.options["betas"] == (0.9, 0.98)


def test_too_long_sequences_are_refused_with_a_clear_error():
    with pytest.raises(ConfigurationError, match="512 positions"):
        get("bert_base_squad").example_batch(1, size=513, device="meta")
    with pytest.raises(ConfigurationError, match="64 positions"):
        get("roberta_large_conll").example_batch(1, size=65, tiny=True)
    get("xlnet_large_squad").example_batch(1, size=600, device="meta")  # relative positions


def test_squad_targets_are_valid_spans_in_the_context():
    batch = get("bert_base_squad").example_batch(64, size=40, tiny=True)
    start, end = batch.targets["start_positions"], batch.targets["end_positions"]
    query = int((batch.kwargs["token_type_ids"][0] == 0).sum())
    assert query == 20
    assert bool((start >= query).all() and (end >= start).all() and (end < 40).all())


def test_importing_the_zoo_does_not_import_transformers():
    code = (
        "import sys, models.squad, models.conll, models.wmt; print('transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------------------------
# Meta device: build and run without memory
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NLP)
def test_meta_build_batch_and_loss(name):
    arch = get(name)
    with torch.device("meta"):
        model = arch.build()
    tensors = list(model.parameters()) + list(model.buffers())
    assert tensors and all(t.device.type == "meta" for t in tensors)
    # full-size network, short sequence: nn.LSTM runs step by step on meta, so keep it brief
    batch = arch.example_batch(2, size=8, device="meta")
    flat = [*batch.args, *batch.kwargs.values()]
    flat += list(batch.targets.values()) if isinstance(batch.targets, dict) else [batch.targets]
    assert all(t.device.type == "meta" for t in flat)
    model.train()
    loss = arch.training_loss(model, batch)
    assert loss.device.type == "meta" and loss.shape == ()

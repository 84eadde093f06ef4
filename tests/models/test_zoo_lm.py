"""The decoder language models of models/lm.py: published shapes, counted on meta at full size."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.arch.decoders import all_decoders, decoder_facts, require_decoder
from harness.arch.registry import get
from harness.counting.build import build_meta, param_counts
from harness.errors import UnknownArchitectureError

NAMES = [f.name for f in all_decoders()]


def test_the_brief_s_decoders_are_registered():
    assert {
        "gpt2_small",
        "gpt2_medium",
        "gpt2_large",
        "gpt2_xl",
        "gpt3_175b",
        "llama2_7b",
        "llama2_13b",
        "llama2_70b",
        "llama3_8b",
        "llama3_70b",
        "bloom_176b",
        "opt_175b",
        "mixtral_8x7b",
    } <= set(NAMES)


@pytest.mark.parametrize(
    ("name", "published", "tolerance"),
    [
        # BLOOM arXiv:2211.05100: 176,247,271,424 parameters (the model card's exact count)
        ("bloom_176b", 176_247_271_424, 0.0),
        # Brown et al. 2020 Table 2.1: 175.0B
        ("gpt3_175b", 175.0e9, 0.01),
        # Jiang et al. 2024 Sec. 2: 47B parameters
        ("mixtral_8x7b", 47e9, 0.01),
        # Touvron et al. 2023: 7B, 70B (rounded names; the released checkpoints hold 6.74B, 69.0B)
        ("llama2_7b", 6.74e9, 0.001),
        ("llama2_70b", 68.98e9, 0.001),
    ],
)
def test_full_size_parameter_counts_match_the_published_ones(name, published, tolerance):
    model = build_meta(get(name), tiny=False)
    assert all(p.is_meta for p in model.parameters())
    assert param_counts(model)[0] == pytest.approx(published, rel=tolerance or 1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_embedding_parameters_match_the_model_s_embedding_tables(name):
    """The facts' embedding count (vocab x d + positions x d) equals the nn.Embedding tables."""
    facts = require_decoder(name)
    model = get(name).build(tiny=True)
    tables = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Embedding))
    assert facts.tiny_shape.embedding_params == tables


def test_grouped_query_attention_where_published():
    model = build_meta(get("llama2_70b"), tiny=False)
    attn = model.model.layers[0].self_attn
    assert attn.q_proj.out_features == 64 * 128
    assert attn.k_proj.out_features == attn.v_proj.out_features == 8 * 128  # 8 KV heads
    small = build_meta(get("llama2_7b"), tiny=False).model.layers[0].self_attn
    assert small.k_proj.out_features == 4096  # no GQA at 7B


def test_recipe_in_tokens_becomes_sequences_and_batches():
    arch, facts = get("gpt3_175b"), require_decoder("gpt3_175b")
    assert facts.tokens == 300e9 and facts.seq_len == 2048
    assert arch.recipe.examples == pytest.approx(300e9 / 2048, abs=1)
    assert arch.recipe.batch_size == round(3.2e6 / 2048)
    assert "2005.14165" in arch.recipe.citation


def test_the_moe_record_says_how_it_is_counted():
    assert "top-k" in require_decoder("mixtral_8x7b").counting_note
    assert decoder_facts("resnet50") is None


def test_unknown_decoder_is_one_line_with_close_matches():
    with pytest.raises(UnknownArchitectureError, match="llama2_70b"):
        require_decoder("llama2_70")


def test_tiny_decoder_causal_loss_is_next_token_cross_entropy():
    arch = get("llama2_7b")
    torch.manual_seed(0)
    model = arch.build(tiny=True)
    batch = arch.example_batch(2, tiny=True)
    logits = model(**batch.kwargs).logits
    ids = batch.kwargs["input_ids"]
    expected = nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)
    )
    assert arch.training_loss(model, batch).item() == pytest.approx(expected.item(), rel=1e-5)

"""Per-token training FLOPs of decoders: counted on meta at full size, against hand formulas."""

from __future__ import annotations

import dataclasses
import json

import pytest

from harness.arch.decoders import require_decoder
from harness.arch.registry import get
from harness.counting.count import count_flops
from harness.counting.per_token import per_token_training
from models import _nlp


def _gpt2_forward_macs(layers: int, d: int, seq: int, vocab: int) -> int:
    """GPT-2 forward MACs of one sequence (embedding lookups are free):
    per layer QKV 3Td^2 + output projection Td^2 + MLP 2 x T d 4d = 12Td^2, attention scores
    QK^T and values AV 2T^2d (full, as counted by default); the tied LM head TdV."""
    return layers * (12 * seq * d * d + 2 * seq * seq * d) + seq * d * vocab


def _llama_forward_macs(layers: int, d: int, ff: int, kv_dim: int, seq: int, vocab: int) -> int:
    """Llama forward MACs of one sequence: per layer Q and O projections 2Td^2, K and V
    projections 2T d kv_dim (grouped-query: kv_dim = KV heads x head dim), SwiGLU MLP 3 matmuls
    of d x d_ff (gate, up, down) 3Td d_ff, attention scores and values 2T^2d; the untied LM
    head TdV. Embedding lookups and RMSNorm are not matmuls; the rotary tables are an outer
    product of inner dimension 1, which the counter costs as pointwise."""
    per_layer = 2 * seq * d * d + 2 * seq * d * kv_dim + 3 * seq * d * ff + 2 * seq * seq * d
    return layers * per_layer + seq * d * vocab


def test_gpt2_small_width_two_layers_equals_the_hand_formula():
    build = _nlp.hf_builder(
        "GPT2Config", "GPT2LMHeadModel", vocab_size=50257, n_embd=768, n_layer=2, n_head=12
    )
    arch = dataclasses.replace(get("gpt2_small"), name="gpt2_mid", builder=build)
    r = count_flops(arch, train=True, size=256, methods=("meta",))
    assert r.forward_flops == 2 * _gpt2_forward_macs(2, 768, 256, 50257)
    assert r.backward_flops == 2 * r.forward_flops


@pytest.mark.slow  # the count is fast; importing transformers' GPT-2 code is not, cold
def test_gpt2_small_full_size_equals_the_hand_formula():
    r = count_flops("gpt2_small", train=True, methods=("meta",))
    fwd = 2 * _gpt2_forward_macs(12, 768, 1024, 50257)
    assert r.forward_flops == fwd
    assert r.backward_flops == 2 * fwd  # input and weight gradients of every matmul
    p = per_token_training(r, require_decoder("gpt2_small"))
    assert p.counted == pytest.approx(3 * fwd / 1024, rel=1e-12)


def _llama_mid(layers: int, kv_heads: int):
    """Llama 2 7B's width (d 4096, d_ff 11008, 32 heads) with fewer layers and grouped KV."""
    cfg = {
        "vocab_size": 32000,
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": layers,
        "num_attention_heads": 32,
        "num_key_value_heads": kv_heads,
        "max_position_embeddings": 4096,
    }
    build = _nlp.hf_builder("LlamaConfig", "LlamaForCausalLM", **cfg)
    return dataclasses.replace(get("llama2_7b"), name="llama_mid", builder=build)


def test_llama_shaped_mid_size_with_gqa_equals_the_hand_formula():
    r = count_flops(_llama_mid(2, 8), train=True, size=512, methods=("meta",))
    fwd = 2 * _llama_forward_macs(2, 4096, 11008, 8 * 128, 512, 32000)
    assert r.forward_flops == fwd
    assert r.backward_flops == 2 * fwd


@pytest.mark.slow
def test_llama2_7b_full_size_equals_the_hand_formula():
    r = count_flops("llama2_7b", train=True, methods=("meta",))
    fwd = 2 * _llama_forward_macs(32, 4096, 11008, 4096, 4096, 32000)
    assert r.forward_flops == fwd and r.backward_flops == 2 * fwd


def test_gpt3_shape_mid_size_is_palm_plus_the_lm_head():
    """Two GPT-3 175B layers at T 2048: counted = 6N + 12LHQT + 6dV (the tied head is not in N);
    N holds biases and norms too, hence a tolerance of 0.05%."""
    build = _nlp.hf_builder(
        "GPT2Config",
        "GPT2LMHeadModel",
        vocab_size=50257,
        n_embd=12288,
        n_layer=2,
        n_head=96,
        n_positions=2048,
    )
    arch = dataclasses.replace(get("gpt3_175b"), name="gpt3_mid", builder=build)
    facts = dataclasses.replace(
        require_decoder("gpt3_175b"),
        shape=dataclasses.replace(require_decoder("gpt3_175b").shape, layers=2),
    )
    p = per_token_training(count_flops(arch, train=True, methods=("meta",)), facts)
    assert p.counted == pytest.approx(p.palm + 6 * 12288 * 50257, rel=5e-4)


@pytest.mark.slow
def test_gpt3_175b_is_within_two_percent_of_palm():
    p = per_token_training(
        count_flops("gpt3_175b", train=True, methods=("meta",)), require_decoder("gpt3_175b")
    )
    assert p.seq_len == 2048
    assert abs(p.vs_palm) < 0.02
    assert p.vs_six_n > p.vs_palm  # 6N leaves the attention scores out


def test_causal_half_halves_the_attention_term():
    full = per_token_training(
        count_flops("llama2_7b", tiny=True, train=True), require_decoder("llama2_7b")
    )
    half = per_token_training(
        count_flops("llama2_7b", tiny=True, train=True, causal_half=True),
        require_decoder("llama2_7b"),
    )
    assert half.attention_term == full.attention_term / 2
    shape = require_decoder("llama2_7b").tiny_shape
    # attention scores and values, forward (2 T^2 d MACs) and backward (x2), halved: per token
    # 3 x 2 x 2 T d / 2 FLOPs fewer
    drop = 3 * 2 * 2 * 16 * shape.d_model * shape.layers / 2
    assert full.counted - half.counted == pytest.approx(drop)


def test_flops_command_prints_the_per_token_section_and_json(capsys):
    from harness.cli import main

    assert main(["flops", "llama2_7b", "--tiny"]) == 0
    out = capsys.readouterr().out
    assert "6N + 12LHQT (PaLM App. B)" in out and "counted (matmul-class" in out
    assert main(["flops", "llama2_7b", "--tiny", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    p = record["per_token_training"]
    assert p["palm"] == pytest.approx(p["six_n"] + p["attention_term"])
    assert record["train"] is True

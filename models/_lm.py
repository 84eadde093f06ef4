"""Helpers for the decoder language models of models/lm.py; registers nothing itself.

Built from transformers configuration classes with random weights (no downloads); under
`torch.device("meta")` a 175B-parameter model costs no memory. Each model's run is stated in tokens
(`harness.arch.decoders`), and expressed to the zoo's recipe as one epoch of `tokens / context`
sequences at a global batch of `batch tokens / context` sequences. The training loss is
next-token cross-entropy (transformers shifts `labels` by one inside the model).
"""

from __future__ import annotations

from typing import Any

from harness.arch.decoders import DecoderFacts, DecoderShape, register_decoder
from harness.arch.registry import register
from harness.arch.spec import Architecture, Batch, OptimizerSpec, TrainingRecipe, random_int
from harness.counting.moe import COUNTING_NOTE
from models import _nlp

TINY_SEQ_LEN = 16
TINY_VOCAB = 1000


def causal_lm_batch(vocab: int, tiny_vocab: int, max_len: int, name: str):
    """Token ids (no padding, so no attention mask), and the same ids as next-token labels."""

    def factory(batch_size, size, *, tiny, device, dtype, generator) -> Batch:
        _nlp._check_length(name, size, 64 if tiny else max_len)
        ids = random_int(tiny_vocab if tiny else vocab, (batch_size, size), device, generator)
        return Batch(args=(), kwargs={"input_ids": ids}, targets={"labels": ids}, size=batch_size)

    return factory


def adamw(lr: float, citation: str) -> OptimizerSpec:
    return OptimizerSpec(
        "adamw", lr, {"betas": (0.9, 0.95), "weight_decay": 0.1}, citation=citation
    )


def _shape(kind: str, cfg: dict[str, Any], moe: dict[str, Any] | None = None) -> DecoderShape:
    """The decoder's shape from its transformers configuration (names differ by family)."""
    if kind == "gpt2":
        d, layers, heads, vocab = cfg["n_embd"], cfg["n_layer"], cfg["n_head"], cfg["vocab_size"]
        positions = cfg["n_positions"]
    elif kind == "bloom":
        d, layers, heads, vocab = (
            cfg["hidden_size"],
            cfg["n_layer"],
            cfg["n_head"],
            cfg["vocab_size"],
        )
        positions = 0  # ALiBi: no position table
    else:
        d, layers = cfg["hidden_size"], cfg["num_hidden_layers"]
        heads, vocab = cfg["num_attention_heads"], cfg["vocab_size"]
        # OPT's learned positions carry an offset of 2 rows (OPTLearnedPositionalEmbedding)
        positions = cfg["max_position_embeddings"] + 2 if kind == "opt" else 0
    extra: dict[str, int] = {}
    if moe:
        extra = {
            "experts": cfg["num_local_experts"],
            "top_k": cfg["num_experts_per_tok"],
            "expert_params": 3 * d * cfg["intermediate_size"],  # SwiGLU: w1, w3 (d x ff), w2
        }
    return DecoderShape(
        layers=layers,
        d_model=d,
        heads=heads,
        head_dim=d // heads,
        vocab=vocab,
        learned_positions=positions,
        **extra,
    )


_CLASSES = {
    "gpt2": ("GPT2Config", "GPT2LMHeadModel"),
    "llama": ("LlamaConfig", "LlamaForCausalLM"),
    "bloom": ("BloomConfig", "BloomForCausalLM"),
    "opt": ("OPTConfig", "OPTForCausalLM"),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM"),
}


def tiny_config(kind: str) -> dict[str, Any]:
    """2 layers, width 32, 4 heads, vocabulary 1000, 64 positions: the family's code path."""
    if kind == "gpt2":
        return {
            "vocab_size": TINY_VOCAB,
            "n_embd": 32,
            "n_layer": 2,
            "n_head": 4,
            "n_positions": 64,
            "bos_token_id": 0,
            "eos_token_id": 0,
        }
    if kind == "bloom":
        return {"vocab_size": TINY_VOCAB, "hidden_size": 32, "n_layer": 2, "n_head": 4}
    cfg: dict[str, Any] = {
        "vocab_size": TINY_VOCAB,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": 64,
    }
    if kind == "opt":
        cfg.update(ffn_dim=64, word_embed_proj_dim=32)
    else:
        cfg.update(intermediate_size=64, num_key_value_heads=2)
    if kind == "mixtral":
        cfg.update(num_local_experts=4, num_experts_per_tok=2)
    return cfg


def decoder(
    name: str,
    kind: str,
    config: dict[str, Any],
    *,
    seq_len: int,
    tokens: float | None,
    batch_tokens: float | None,
    run_citation: str,
    shape_citation: str,
    optimizer: OptimizerSpec,
    year: int,
    precision: str,
    processor_type: str | None,
    published_params: int | None,
    description: str,
) -> None:
    """Register one decoder: its architecture, and its facts in tokens."""
    config_class, model_class = _CLASSES[kind]
    tiny = tiny_config(kind)
    moe = kind == "mixtral"
    note = COUNTING_NOTE if moe else ""
    vocab = config.get("vocab_size", 50257)
    sequences = round(tokens / seq_len) if tokens else None
    batch = round(batch_tokens / seq_len) if batch_tokens else None
    register(
        Architecture(
            name=name,
            domain="nlp",
            task="language-modeling",
            benchmark=None,
            year=year,
            builder=_nlp.hf_builder(config_class, model_class, **config),
            tiny_builder=_nlp.hf_builder(config_class, model_class, **tiny),
            batch_factory=causal_lm_batch(vocab, TINY_VOCAB, seq_len, name),
            loss_fn=_nlp.hf_training_loss,
            loss_name="next-token cross-entropy",
            forward_fn=_nlp.hf_forward,
            optimizer=optimizer,
            size_kind="seq_len",
            default_size=seq_len,
            tiny_size=TINY_SEQ_LEN,
            recipe=TrainingRecipe(
                epochs=1 if sequences else None,
                examples_per_epoch=sequences,
                batch_size=batch,
                precision=precision,
                processor_type=processor_type,
                citation=f"{run_citation}; sequences = tokens / {seq_len} (derived)",
            ),
            published_params=published_params,
            published_source=shape_citation,
            family=kind,
            description=description,
            tags=frozenset({"decoder", "moe"} if moe else {"decoder"}),
            source="models.lm",  # where the decoders are listed
        )
    )
    register_decoder(
        DecoderFacts(
            name=name,
            shape=_shape(kind, config, config if moe else None),
            tiny_shape=_shape(kind, tiny, tiny if moe else None),
            seq_len=seq_len,
            tokens=tokens,
            batch_tokens=batch_tokens,
            citation=f"{shape_citation}; run: {run_citation}",
            counting_note=note,
        )
    )

"""Helpers shared by the NLP zoo modules (squad, conll, wmt); registers nothing itself.

- Published rows: reference metrics and training hardware are read from
  harness/data/reference/<benchmark>.csv (through harness.catalog.published), so each number
  keeps the citation column it came with.
- transformers networks: built from their `Config` classes with random weights; `transformers` is
  imported inside the builder only (importing it costs seconds, and `harness list` imports every
  zoo module).
- Example batches for question answering and token classification, and the registration of
  transformers encoders with a task head (shared by squad and conll).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import nn

from harness.arch.registry import register
from harness.arch.spec import (
    Architecture,
    Batch,
    OptimizerSpec,
    ReferenceMetric,
    TrainingRecipe,
    random_int,
)
from harness.catalog.flags import is_flagged
from harness.catalog.published import benchmark_row
from harness.errors import ConfigurationError

SQUAD11_TRAIN_QUESTIONS = 87_599
SQUAD11_TRAIN_CITATION = (
    "SQuAD v1.1 train-v1.1.json: 87,599 questions (Rajpurkar et al. 2016, arXiv:1606.05250)"
)
CONLL03_TRAIN_SENTENCES = 14_041
CONLL03_TRAIN_CITATION = (
    "CoNLL-2003 English train: 14,041 sentences (Tjong Kim Sang & De Meulder 2003; the "
    "Hugging Face conll2003 train split, document markers excluded)"
)

# --------------------------------------------------------------------------------------------
# Published rows
# --------------------------------------------------------------------------------------------


def _flags(row: Mapping[str, str]) -> str:
    """The row's notes when they flag the value (kept visibly flagged in the citation)."""
    notes = row.get("notes", "")
    return f" [notes: {notes}]" if is_flagged(notes) else ""


def row_reference(benchmark: str, model: str) -> ReferenceMetric:
    """The row's metric and value, cited with the row's `source` column."""
    row = benchmark_row(benchmark, model)
    citation = f"harness/data/reference/{benchmark}.csv '{model}': {row['source']}{_flags(row)}"
    return ReferenceMetric(name=row["metric"], value=float(row["value"]), citation=citation)


def row_params(benchmark: str, model: str) -> int | None:
    """The row's `params_m` column in parameters, or None where blank."""
    value = benchmark_row(benchmark, model)["params_m"]
    return round(float(value) * 1e6) if value else None


def row_recipe(
    benchmark: str,
    model: str,
    *,
    epochs: float | None,
    examples_per_epoch: int | None,
    batch_size: int | None,
    precision: str,
    citation: str,
) -> TrainingRecipe:
    """A recipe whose hardware and time come from a reference row (cited with it)."""
    row = benchmark_row(benchmark, model)
    hardware = (
        f"hardware: harness/data/reference/{benchmark}.csv '{model}' "
        f"({row['processors'] or 'not stated'}; {row['train_hours'] or '?'} h): {row['source']}"
        f"{_flags(row)}"
    )
    return TrainingRecipe(
        epochs=epochs,
        examples_per_epoch=examples_per_epoch,
        batch_size=batch_size,
        precision=precision,
        processor_type=row["processor_type"] or None,
        processor_count=int(row["processor_count"]) if row["processor_count"] else None,
        train_hours=float(row["train_hours"]) if row["train_hours"] else None,
        citation=f"{citation}; {hardware}",
    )


# --------------------------------------------------------------------------------------------
# Building on any default device
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def parameters_on_default_device() -> Iterator[None]:
    """Move every parameter registered while building to the default device.

    Some transformers modules (XLNet) create parameters with the legacy `torch.FloatTensor(...)`
    constructor, which ignores `with torch.device("meta")`; without this they would be allocated
    and initialised on the CPU.
    """

    def hook(module: nn.Module, name: str, param: nn.Parameter | None) -> nn.Parameter | None:
        device = torch.get_default_device()
        if param is not None and param.device != device:
            return nn.Parameter(param.to(device), requires_grad=param.requires_grad)
        return None

    handle = nn.modules.module.register_module_parameter_registration_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def hf_builder(config_class: str, model_class: str, **config: Any) -> Callable[[], nn.Module]:
    """A builder of a transformers model with random weights from `config_class(**config)`."""

    def build() -> nn.Module:
        transformers = importlib.import_module("transformers")
        cfg = getattr(transformers, config_class)(**config)
        with parameters_on_default_device():
            return getattr(transformers, model_class)(cfg)

    build.__name__ = f"build_{model_class}"
    # the same model with some configuration values changed (fewer layers: harness.arch.variants)
    build.with_config = lambda **changes: hf_builder(  # type: ignore[attr-defined]
        config_class, model_class, **{**config, **changes}
    )
    build.config = dict(config)  # type: ignore[attr-defined]
    return build


# --------------------------------------------------------------------------------------------
# Example batches
# --------------------------------------------------------------------------------------------


def _check_length(name: str, size: int, max_len: int | None) -> None:
    if max_len is not None and size > max_len:
        raise ConfigurationError(
            f"{name}: sequence length {size} exceeds the model's {max_len} positions; "
            f"use a length of at most {max_len}"
        )


def span_targets(
    batch_size: int, size: int, first: int, device: Any, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random answer spans inside [first, size): start <= end, at most 30 tokens long."""
    first = min(first, size - 1)
    start = random_int(size - first, (batch_size,), device, generator) + first
    length = random_int(min(30, size - first), (batch_size,), device, generator)
    end = torch.clamp(start + length, max=size - 1)
    return start, end


def qa_batch_factory(
    name: str,
    *,
    vocab: int,
    tiny_vocab: int,
    max_len: int | None,
    tiny_max_len: int | None,
    segments: bool,
    max_query: int = 64,
) -> Callable[..., Batch]:
    """Question answering: [question | context] token ids, and a random answer span as target.

    The question takes the first min(64, L/2) tokens (64 = BERT's run_squad.py
    max_query_length); `segments` adds token_type_ids (0 question, 1 context) for models with
    segment embeddings. Every position is a real token (no padding), so no attention mask is
    passed: the model's default (attend everywhere) is the same computation, and transformers'
    check of an all-ones mask is data-dependent, which meta tensors cannot answer.
    """

    def factory(batch_size, size, *, tiny, device, dtype, generator) -> Batch:
        _check_length(name, size, tiny_max_len if tiny else max_len)
        v = tiny_vocab if tiny else vocab
        query = max(1, min(max_query, size // 2))
        kwargs: dict[str, torch.Tensor] = {
            "input_ids": random_int(v, (batch_size, size), device, generator)
        }
        if segments:
            seg = (torch.arange(size, device=device) >= query).long()
            kwargs["token_type_ids"] = seg.expand(batch_size, size)
        start, end = span_targets(batch_size, size, query, device, generator)
        targets = {"start_positions": start, "end_positions": end}
        return Batch(args=(), kwargs=kwargs, targets=targets, size=batch_size)

    return factory


def token_batch_factory(
    name: str,
    *,
    vocab: int,
    tiny_vocab: int,
    max_len: int | None,
    tiny_max_len: int | None,
    num_labels: int,
) -> Callable[..., Batch]:
    """Token classification: token ids and one random label per token (no padding, no mask)."""

    def factory(batch_size, size, *, tiny, device, dtype, generator) -> Batch:
        _check_length(name, size, tiny_max_len if tiny else max_len)
        v = tiny_vocab if tiny else vocab
        ids = random_int(v, (batch_size, size), device, generator)
        labels = random_int(num_labels, (batch_size, size), device, generator)
        return Batch(
            args=(), kwargs={"input_ids": ids}, targets={"labels": labels}, size=batch_size
        )

    return factory


def hf_training_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """The loss transformers computes from the targets passed as labels/positions."""
    return model(**batch.kwargs, **batch.targets).loss


def hf_forward(model: nn.Module, batch: Batch) -> Any:
    return model(**batch.kwargs)


# --------------------------------------------------------------------------------------------
# transformers encoders: published configurations, tiny variants, registration
# --------------------------------------------------------------------------------------------


def tiny_config(kind: str) -> dict[str, Any]:
    """2 layers, hidden 32, vocabulary 1000: fast on CPU, same code path as the full model."""
    if kind == "xlnet":
        return {"vocab_size": 1000, "d_model": 32, "n_layer": 2, "n_head": 2, "d_inner": 64}
    if kind == "distilbert":
        return {
            "vocab_size": 1000,
            "dim": 32,
            "n_layers": 2,
            "n_heads": 2,
            "hidden_dim": 64,
            "max_position_embeddings": 64,
        }
    cfg: dict[str, Any] = {
        "vocab_size": 1000,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
    }
    if kind == "albert":
        cfg["embedding_size"] = 16
    if kind == "roberta":  # positions start after the padding index (1)
        cfg.update(max_position_embeddings=66, pad_token_id=1, type_vocab_size=1)
    return cfg


# config class; whether the model takes segment (token type) ids; positions reserved before the
# first token (RoBERTa counts from padding_idx + 1), None for relative positions (no length limit)
ENCODERS: dict[str, tuple[str, bool, int | None]] = {
    "bert": ("BertConfig", True, 0),
    "roberta": ("RobertaConfig", False, 2),  # one token type only
    "albert": ("AlbertConfig", True, 0),
    "xlnet": ("XLNetConfig", True, None),
    "distilbert": ("DistilBertConfig", False, 0),  # no segment embeddings
}

# BERT arXiv:1810.04805 Sec. 3 and google-research/bert bert_config.json files
BERT_BASE = {
    "vocab_size": 30522,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
}
BERT_LARGE = {
    **BERT_BASE,
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
}
# RoBERTa arXiv:1907.11692: BERT's shapes with a 50K byte-level BPE vocabulary (Sec. 4.4)
ROBERTA_BASE = {
    **BERT_BASE,
    "vocab_size": 50265,
    "max_position_embeddings": 514,
    "type_vocab_size": 1,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "layer_norm_eps": 1e-5,
}
ROBERTA_LARGE = {
    **ROBERTA_BASE,
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
}


def albert_config(hidden: int, layers: int, heads: int) -> dict[str, Any]:
    """ALBERT arXiv:1909.11942 Table 1: embedding 128, FFN 4H, one shared layer group."""
    return {
        "vocab_size": 30000,
        "embedding_size": 128,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": 4 * hidden,
        "max_position_embeddings": 512,
    }


# XLNet arXiv:1906.08237: XLNet-Large has BERT-Large's shape; 32K SentencePiece vocabulary
XLNET_LARGE = {
    "vocab_size": 32000,
    "d_model": 1024,
    "n_layer": 24,
    "n_head": 16,
    "d_inner": 4096,
    "ff_activation": "gelu",
}
# DistilBERT arXiv:1910.01108 Sec. 3: BERT-base with half the layers (6)
DISTILBERT = {
    "vocab_size": 30522,
    "dim": 768,
    "n_layers": 6,
    "n_heads": 12,
    "hidden_dim": 3072,
    "max_position_embeddings": 512,
}


def register_encoder(
    *,
    module: str,
    name: str,
    kind: str,
    model_class: str,
    config: dict[str, Any],
    batch_factory_kind: str,
    benchmark: str,
    task: str,
    default_size: int,
    tiny_size: int,
    year: int,
    family: str,
    reference: ReferenceMetric,
    recipe: TrainingRecipe,
    optimizer: OptimizerSpec,
    description: str,
    loss_name: str,
    published_params: int | None = None,
    published_source: str = "",
    tags: frozenset[str] = frozenset(),
    num_labels: int | None = None,
) -> Architecture:
    """Register a transformers encoder with a task head (squad and conll)."""
    config_class, segments, offset = ENCODERS[kind]
    tiny = tiny_config(kind)
    extra = {"num_labels": num_labels} if num_labels is not None else {}

    def max_len(cfg: dict[str, Any]) -> int | None:
        return None if offset is None else cfg["max_position_embeddings"] - offset

    common = {
        "vocab": config["vocab_size"],
        "tiny_vocab": tiny["vocab_size"],
        "max_len": max_len(config),
        "tiny_max_len": max_len(tiny),
    }
    if batch_factory_kind == "qa":
        factory = qa_batch_factory(name, segments=segments, **common)
    else:
        factory = token_batch_factory(name, num_labels=num_labels or 2, **common)
    return register(
        Architecture(
            name=name,
            domain="nlp",
            task=task,
            benchmark=benchmark,
            year=year,
            builder=hf_builder(config_class, model_class, **config, **extra),
            tiny_builder=hf_builder(config_class, model_class, **tiny, **extra),
            batch_factory=factory,
            loss_fn=hf_training_loss,
            forward_fn=hf_forward,
            loss_name=loss_name,
            optimizer=optimizer,
            size_kind="seq_len",
            default_size=default_size,
            tiny_size=tiny_size,
            reference=reference,
            recipe=recipe,
            published_params=published_params,
            published_source=published_source,
            family=family,
            description=description,
            tags=frozenset({"transformers"}) | tags,
            source=module,
        )
    )

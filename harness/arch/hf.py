"""Hugging Face models by name: `hf:MODEL_ID` (a hub id such as `hf:bert-base-uncased`, or
`hf:/path/to/dir` holding a config.json) is the network `AutoModel.from_config` builds from
that configuration, with random weights (no checkpoint is downloaded).

The configuration comes from the local Hugging Face cache or the hub
(`AutoConfig.from_pretrained`, https://huggingface.co/docs/transformers/model_doc/auto);
offline (`HF_HUB_OFFLINE=1`, or no network) a model whose configuration is not cached is a
one-line error. The input is token ids (N, L) drawn from the configuration's vocabulary, L
defaulting to 128 (at most the model's `max_position_embeddings`); an encoder-decoder gets the
same ids as decoder input. The loss and optimizer are the generic ones of a plain factory
(`harness.arch.loader.architecture_from_module_factory`), stated in the record.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from typing import Any

from torch import nn

from harness.arch.loader import architecture_from_module_factory
from harness.arch.spec import Architecture, Batch, BatchFactory
from harness.errors import ArchitectureLoadError

HF_PREFIX = "hf:"
DEFAULT_SEQ_LEN = 128


def is_hf_reference(spec: str) -> bool:
    """Whether `spec` names a Hugging Face model (`hf:MODEL_ID`)."""
    return spec.startswith(HF_PREFIX) and len(spec) > len(HF_PREFIX)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_config(spec: str) -> Any:
    """The model's configuration, from a local directory, the HF cache or the hub."""
    try:
        from transformers import AutoConfig
    except ImportError as exc:
        raise ArchitectureLoadError(f"{spec}: needs the transformers package") from exc
    model_id = spec[len(HF_PREFIX) :]
    try:
        return AutoConfig.from_pretrained(model_id)
    except Exception as exc:  # OSError (not found, offline), ValueError (unknown model type)
        raise ArchitectureLoadError(
            f"{spec}: no usable configuration for {model_id!r} ({_first_line(exc)}); give a "
            "hub id whose config.json is in the local Hugging Face cache (or reachable "
            "online), or hf:/path/to/dir with a config.json"
        ) from None


def default_seq_len(config: Any) -> int:
    """128 tokens, or fewer where the model's positions stop earlier."""
    limit = getattr(config, "max_position_embeddings", None)
    return min(DEFAULT_SEQ_LEN, int(limit)) if isinstance(limit, int) and limit > 0 else 128


def _with_decoder_ids(factory: BatchFactory) -> BatchFactory:
    """An encoder-decoder's batch: the same token ids as encoder and decoder input."""

    def batch(batch_size, size, **kw) -> Batch:
        b = factory(batch_size, size, **kw)
        return replace(b, kwargs={**b.kwargs, "decoder_input_ids": b.args[0]})

    return batch


@lru_cache(maxsize=32)
def load_hf_reference(spec: str) -> Architecture:
    """The Architecture `hf:MODEL_ID` names (its configuration read once per process)."""
    config = load_config(spec)
    vocab = getattr(config, "vocab_size", None)
    if not isinstance(vocab, int) or vocab < 1:
        raise ArchitectureLoadError(f"{spec}: the configuration has no vocab_size for token ids")
    config_json = json.dumps(config.to_dict(), sort_keys=True, default=str)

    def build() -> nn.Module:
        from transformers import AutoModel

        _ = config_json  # in the closure, so the count cache's key covers the configuration
        return AutoModel.from_config(config)

    arch = architecture_from_module_factory(
        build, name=spec, seq_len=default_seq_len(config), vocab=vocab, source=spec
    )
    if getattr(config, "is_encoder_decoder", False):
        arch = replace(arch, batch_factory=_with_decoder_ids(arch.batch_factory))
    kind = getattr(config, "model_type", "?")
    return replace(
        arch,
        domain="nlp",
        family=kind,
        description=f"Hugging Face {kind} from its configuration, random weights",
    )

"""A count asked for by name and options (as `harness flops` takes them), checked and run."""

from __future__ import annotations

from dataclasses import dataclass

from harness.arch.registry import resolve
from harness.arch.spec import Architecture
from harness.counting.count import count_flops
from harness.counting.record import METHODS, FlopCount
from harness.errors import ConfigurationError
from harness.user_files import is_file_reference


@dataclass(frozen=True)
class FlopsRequest:
    """One architecture (registered name or `path/to/file.py:factory`) and how to count it."""

    name: str
    batch: int | None = None  # None: the N of `input_shape`, else 1
    resolution: int | None = None
    seq_len: int | None = None
    input_shape: tuple[int, ...] | None = None
    vocab: int | None = None
    train: bool = False
    tiny: bool = False
    causal_half: bool = False
    attention_recompute: bool = False
    strict: bool = False
    fvcore: bool = False
    fvcore_max_params: int = 200_000_000
    method: str | None = None  # one method only; None: the whole ladder
    cache: bool = False  # reuse a stored count on real tensors (harness.counting.cache)
    activation_checkpointing: bool = False  # transformers models: the recompute is counted

    @property
    def size(self) -> int | None:
        return self.resolution if self.resolution is not None else self.seq_len

    @property
    def batch_size(self) -> int:
        """`batch`, else the N of `input_shape`, else 1 (checked by `resolve_request`)."""
        if self.batch is not None:
            return self.batch
        return self.input_shape[0] if self.input_shape else 1


def resolve_request(req: FlopsRequest) -> Architecture:
    """The architecture the request names; ConfigurationError for options that do not fit it."""
    if req.batch is not None and req.batch < 1:
        raise ConfigurationError(f"--batch must be at least 1, got {req.batch}")
    if (req.input_shape or req.vocab) and not is_file_reference(req.name):
        raise ConfigurationError("--input-shape and --vocab apply to a file.py:factory reference")
    _check_input_shape(req)
    arch = resolve(req.name, input_shape=req.input_shape, seq_len=req.seq_len, vocab=req.vocab)
    if req.resolution is not None and arch.size_kind != "resolution":
        raise ConfigurationError(f"{arch.name} takes --seq-len, not --resolution")
    if req.seq_len is not None and arch.size_kind != "seq_len":
        raise ConfigurationError(f"{arch.name} takes --resolution, not --seq-len")
    if req.size is not None and req.size < 1:
        raise ConfigurationError(f"the {arch.size_kind} must be at least 1, got {req.size}")
    return arch


def _check_input_shape(req: FlopsRequest) -> None:
    """The shape's N is the batch unless --batch says otherwise; N=1 is a one-example shape
    that --batch scales, any other N must agree with --batch. --resolution cannot resize it."""
    if not req.input_shape:
        return
    n = req.input_shape[0]
    if req.batch is not None and n not in (1, req.batch):
        raise ConfigurationError(
            f"--input-shape has batch {n} but --batch is {req.batch}; give one of them "
            "(or make the shape's first dimension 1)"
        )
    if req.resolution is not None:
        raise ConfigurationError(
            "--resolution does not resize --input-shape (the shape is used as given); "
            "put the size in the shape instead, e.g. --input-shape 1,3,R,R"
        )


def count_request(req: FlopsRequest) -> FlopCount:
    """Check the request against its architecture, then count it."""
    arch = resolve_request(req)
    if req.activation_checkpointing:
        from harness.arch.variants import with_activation_checkpointing

        arch = with_activation_checkpointing(arch)
    return count_flops(
        arch,
        batch_size=req.batch_size,
        size=req.size,
        tiny=req.tiny,
        train=req.train,
        causal_half=req.causal_half,
        attention_recompute=req.attention_recompute,
        strict=req.strict,
        fvcore=req.fvcore,
        fvcore_max_params=req.fvcore_max_params,
        methods=(req.method,) if req.method else METHODS,
        cache=req.cache,
    )

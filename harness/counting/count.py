"""FLOP counting: exact per-pass and training-step counts, on meta tensors, with no silent zeros.

A `TorchDispatchMode` sees every ATen call of a forward pass, a backward pass and an optimizer
step, and costs it with the formulas of `harness.counting.formulas` (matmul-class MACs, and other
FLOPs in their own column). Models are built under `torch.device("meta")`, so counting costs
no memory and no arithmetic for any size of model. A model whose forward cannot run on meta
tensors (`.item()`, data-dependent shapes) is retried on fake tensors (`FakeTensorMode`, CPU
semantics, still no memory), then on real CPU tensors; the record says which (`method`).

Operators that ran but have no formula are listed with their call counts (`uncounted`);
`strict=True` turns them into an error. Nothing is assumed: backward and optimizer work are
counted, not taken as multiples of the forward.

Per-module attribution uses global module hooks in the forward and multi-gradient hooks in the
backward (the mechanism of `torch.utils.module_tracker`); a module's count includes its
children, and a module called several times (shared layers) adds up its calls.
"""

from __future__ import annotations

import dataclasses
import math
import time

from harness.arch.registry import resolve
from harness.arch.spec import Architecture
from harness.counting import cache as count_cache
from harness.counting.counter import FlopCounter
from harness.counting.fvcore_check import FvcoreRun, compare, run_fvcore
from harness.counting.methods import (
    CountSettings,
    MethodFailed,
    MethodNotTried,
    MethodRun,
    run_method,
)
from harness.counting.record import (
    DEFAULT_FVCORE_MAX_PARAMS,
    DEFAULT_REAL_MAX_PARAMS,
    METHODS,
    PHASES,
    CountingError,
    FlopCount,
)


def count_flops(
    arch: Architecture | str,
    *,
    batch_size: int = 1,
    size: int | None = None,
    tiny: bool = False,
    train: bool = False,
    causal_half: bool = False,
    attention_recompute: bool = False,
    strict: bool = False,
    fvcore: bool = False,
    fvcore_max_params: int | None = DEFAULT_FVCORE_MAX_PARAMS,
    methods: tuple[str, ...] = METHODS,
    real_max_params: int = DEFAULT_REAL_MAX_PARAMS,
    cache: bool = False,
) -> FlopCount:
    """Count one architecture: its inference pass, and with `train` one training step.

    Tries `methods` in order (meta, fake, real CPU) and records the first that works. Raises
    CountingError naming the architecture and the failing operator when none does, and, with
    `strict`, when any operator ran without a formula. With `cache`, a count on real tensors
    is stored and the same request later reads it (`harness.counting.cache`; not with fvcore).
    """
    arch = resolve(arch) if isinstance(arch, str) else arch
    _check_request(batch_size, methods)
    started = time.perf_counter()
    settings = CountSettings(
        batch_size=batch_size,
        size=size,
        tiny=tiny,
        train=train,
        causal_half=causal_half,
        attention_recompute=attention_recompute,
        real_max_params=real_max_params,
    )
    key = _cache_key(arch, settings, methods) if cache and not fvcore else None
    cached = count_cache.load(arch, key) if key else None
    if cached is not None:
        if strict:
            _refuse(arch.name, cached.uncounted)
        return cached
    method, run, failures = run_first_method(arch, methods, settings)
    if strict:
        refuse_uncounted(arch.name, run.counter)
    fv = None
    if fvcore:
        fv = run_fvcore(arch, size=size, tiny=tiny, max_params=fvcore_max_params)
    record = assemble_count(arch, settings, method, run, failures, fvcore=fv, started=started)
    if key:
        count_cache.store(arch, key, record)
    return record


def _cache_key(arch: Architecture, settings: CountSettings, methods: tuple[str, ...]) -> str:
    request = {**dataclasses.asdict(settings), "methods": list(methods)}
    return count_cache.cache_key(arch, request)


def _check_request(batch_size: int, methods: tuple[str, ...]) -> None:
    if batch_size < 1:
        raise CountingError(f"batch size must be at least 1, got {batch_size}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise CountingError(f"unknown counting method(s) {unknown}; use {', '.join(METHODS)}")


def run_first_method(
    arch: Architecture, methods: tuple[str, ...], settings: CountSettings
) -> tuple[str, MethodRun, list[MethodFailed]]:
    """The ladder: try each method in order; the first that works, and why earlier ones failed."""
    failures: list[MethodFailed] = []
    for method in methods:
        if method == "fake" and failures and failures[-1].data_dependent_shape:
            why = MethodNotTried(
                "not tried: an output shape depends on tensor values (meta tensors failed "
                "there), which fake tensors cannot run either"
            )
            failures.append(MethodFailed("fake", failures[-1].stage, failures[-1].op, why))
            continue
        try:
            return method, run_method(arch, method, settings), failures
        except MethodFailed as exc:
            failures.append(exc)
    last = failures[-1]
    ops = [f.op for f in failures if f.op]
    op = f"; failing operator: {ops[-1]}" if ops else ""
    raise CountingError(
        f"{arch.name}: counting failed on {', '.join(f.method for f in failures)} tensors{op} "
        f"({last})"
    ) from last.exc


def refuse_uncounted(name: str, counter: FlopCounter) -> None:
    """Strict mode: an operator that ran without a formula is an error."""
    _refuse(name, dict(counter.uncounted.most_common()))


def _refuse(name: str, uncounted: dict[str, int]) -> None:
    if uncounted:
        ops = ", ".join(f"{k} ({v} calls)" for k, v in uncounted.items())
        raise CountingError(f"{name}: operators without a FLOP formula ran: {ops}")


def assemble_count(
    arch: Architecture,
    settings: CountSettings,
    method: str,
    run: MethodRun,
    failures: list[MethodFailed],
    *,
    fvcore: FvcoreRun | str | None,
    started: float,
) -> FlopCount:
    """The record of one count: phase totals, breakdowns, and how it was obtained."""
    s, c = settings, run.counter
    phases = [p for p in PHASES if p in c.macs or p in c.other]
    return FlopCount(
        architecture=arch.name,
        batch_size=run.batch.size,
        size=s.size if s.size is not None else (arch.tiny_size if s.tiny else arch.default_size),
        size_kind=arch.size_kind,
        tiny=s.tiny,
        train=s.train,
        method=method,
        params=run.params,
        trainable_params=run.trainable,
        **_phase_totals(run, s.train),
        other_flops={p: c.total_other(p) for p in phases},
        by_op={p: c.by_op(p) for p in phases if c.macs.get(p)},
        by_module={p: c.by_module(p) for p in phases if c.module_macs.get(p)},
        uncounted=dict(c.uncounted.most_common()),
        causal="half" if s.causal_half and _halved(c) else "full",
        causal_attention_calls=c.causal_calls["inference"]
        or sum(v for k, v in c.tags.items() if k.startswith("inference:")),
        attention_backward="with-recompute" if s.attention_recompute else "algorithmic",
        optimizer=describe_optimizer(arch),
        fvcore_forward_macs_per_example=(
            fvcore.matmul_class_macs_per_example if isinstance(fvcore, FvcoreRun) else None
        ),
        fvcore_note=fvcore if isinstance(fvcore, str) else None,
        fvcore=(
            compare(
                c.macs["inference"],
                c.other["inference"],
                run.batch.size,
                fvcore,
                inside_attention=c.sdpa_macs["inference"],
            )
            if isinstance(fvcore, FvcoreRun)
            else None
        ),
        detection=run.detection,
        fallbacks=tuple(str(f) for f in failures),
        notes=tuple(_notes(run, s, method)),
        seconds=time.perf_counter() - started,
    )


def _phase_totals(run: MethodRun, train: bool) -> dict[str, int | float | None]:
    """Inference MACs, and for a training step its forward, backward and optimizer FLOPs."""
    c = run.counter
    inference = c.total_macs("inference")
    fwd_macs = c.total_macs("forward") if train else inference
    bwd = 2 * c.total_macs("backward") if train else None
    opt = run.optimizer_flops if train else None
    step = 2 * fwd_macs + bwd + opt if train else None  # type: ignore[operator]
    return {
        "forward_macs": inference,
        "forward_macs_per_example": inference / run.batch.size,
        "forward_flops": 2 * fwd_macs,
        "backward_flops": bwd,
        "optimizer_flops": opt,
        "train_step_flops": step,
    }


def _halved(counter: FlopCounter) -> bool:
    """Whether any causal attention call was counted at half (in any phase)."""
    return any(k.endswith(":causal-half") and v for k, v in counter.tags.items())


def _notes(run: MethodRun, settings: CountSettings, method: str) -> list[str]:
    c = run.counter
    notes = list(run.notes)
    if settings.causal_half and not _halved(c):
        notes.append(
            "--causal-half had nothing to apply to: no causal attention call was counted "
            f"(on {method} tensors); causal attention, if any, is counted in full"
        )
    notes += [f"{k} ({v} calls)" for k, v in c.notes.items()]
    notes += [
        f"formula for {k} could not read its arguments: {v}" for k, v in c.formula_errors.items()
    ]
    if run.batch.size != settings.batch_size:
        notes.append(f"the batch factory made {run.batch.size} examples")
    return notes


def describe_optimizer(arch: Architecture) -> str:
    """'sgd lr=0.1 momentum=0.9': the recipe's optimizer, as the record shows it."""
    o = arch.optimizer
    opts = " ".join(f"{k}={v}" for k, v in o.options.items())
    return f"{o.name} lr={o.lr:g}" + (f" {opts}" if opts else "")


def relative_error(value: float, reference: float) -> float:
    """|value - reference| / reference (inf for a zero reference)."""
    return abs(value - reference) / reference if reference else math.inf

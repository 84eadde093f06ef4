"""Timed training steps: forward, loss, backward and the optimizer step of the published recipe.

The timer follows `torch.utils.benchmark` and timm's benchmark.py: warm up until steady, then
time back-to-back steps until both a minimum step count and a minimum duration are reached,
keep every per-step sample, and report median, mean, IQR and p90 with a noise flag.

- CUDA: one `torch.cuda.Event` between consecutive steps and one synchronise per window, since
  synchronising after every step would inflate the time of small steps.
- CPU: `time.perf_counter` between steps, with the torch thread count fixed and recorded.

An energy monitor (anything with `begin_window(name)` / `end_window(name)`) wraps exactly the
timed steps: begin after the warm-up has synchronised, end after the final synchronise.

Bad input fails before anything large is allocated: a missing device, a precision the device
cannot run, and on CPU a batch whose estimated memory (parameters, gradients, optimizer state,
saved activations measured on the meta device) exceeds what is available. A CUDA out-of-memory
error retries at half the batch, says so, and records the batch actually used.
"""

from __future__ import annotations

import contextlib
import gc
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import torch
from torch import nn

from harness.arch.spec import Architecture, Batch
from harness.console import progress as progress_bar
from harness.errors import ConfigurationError, HarnessError
from harness.hardware.devices import available_memory_bytes, cpu_identity, resolve_device
from harness.hardware.precision import (
    PrecisionPlan,
    autocast,
    grad_scaler,
    plan_precision,
    precision_settings,
)
from harness.timing.memory import (
    _peak_rss_bytes,
    _reset_peak_rss,
    check_cpu_memory,
    estimate_training_memory,
)
from harness.timing.result import TimingResult
from harness.timing.stats import NOISY_IQR_RATIO, summarize
from harness.vocab import COMPILE_MODES

# Defaults per device kind. On CUDA, 6 s of timed steps keeps an energy window over 5 s, long
# enough for NVML's ~100 ms energy counter (see MEASUREMENT.md, "Power and energy").
DEFAULTS: dict[str, dict[str, float]] = {
    "cuda": {"warmup_steps": 10, "min_steps": 20, "min_seconds": 6.0},
    "cpu": {"warmup_steps": 3, "min_steps": 10, "min_seconds": 2.0},
}
SETTLE_STEPS = 3  # CUDA warm-up ends when this many consecutive steps ...
SETTLE_TOLERANCE = 0.05  # ... are within 5% of their median
MAX_WARMUP_FACTOR = 5  # ... or after this many times the minimum warm-up steps (at least 30)


class WindowMonitor(Protocol):
    """Zeus-style measurement windows (harness.energy.EnergyMonitor is one)."""

    def begin_window(self, name: str) -> None: ...

    def end_window(self, name: str) -> Any: ...


# --------------------------------------------------------------------------------------------
# The timer
# --------------------------------------------------------------------------------------------


def _to_channels_last(obj: Any) -> tuple[Any, bool]:
    if isinstance(obj, torch.Tensor):
        if obj.dim() == 4 and obj.is_floating_point():
            return obj.contiguous(memory_format=torch.channels_last), True
        return obj, False
    if isinstance(obj, (list, tuple)):
        pairs = [_to_channels_last(o) for o in obj]
        return type(obj)(p[0] for p in pairs), any(p[1] for p in pairs)
    if isinstance(obj, dict):
        pairs = {k: _to_channels_last(v) for k, v in obj.items()}
        return {k: v[0] for k, v in pairs.items()}, any(v[1] for v in pairs.values())
    return obj, False


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[int]:
    before = torch.get_num_threads()
    if n is not None:
        if n < 1:
            raise ConfigurationError(f"--threads must be at least 1, got {n}")
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _settled(times: Sequence[float]) -> bool:
    if len(times) < SETTLE_STEPS:
        return False
    last = sorted(times[-SETTLE_STEPS:])
    mid = last[len(last) // 2]
    return mid > 0 and (last[-1] - last[0]) / mid <= SETTLE_TOLERANCE


def time_training(
    arch: Architecture | str,
    *,
    batch_size: int,
    size: int | None = None,
    tiny: bool = False,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    channels_last: bool = False,
    compile_mode: str | None = None,
    cudnn_benchmark: bool | None = None,
    warmup_steps: int | None = None,
    min_steps: int | None = None,
    min_seconds: float | None = None,
    threads: int | None = None,
    seed: int = 0,
    monitor: WindowMonitor | None = None,
    progress: bool = True,
    memory_check: bool = True,
    retry_oom: bool = True,
    wrap_model: Callable[[nn.Module], nn.Module] | None = None,
    exact_steps: bool = False,
) -> TimingResult:
    """Time training steps of `arch` at `batch_size` on `device`.

    None means the device default (DEFAULTS; cudnn.benchmark on for CUDA). `compile_mode` is a
    torch.compile mode ("default", "reduce-overhead", ...) or None for eager. `wrap_model`
    wraps the model once it is on the device, before the optimizer and torch.compile (for
    example DistributedDataParallel); the loss then runs through the wrapper. `exact_steps`
    runs exactly `warmup_steps` and `min_steps` steps (no settling, no `min_seconds`): the
    ranks of a data-parallel step must all run the same number of steps.
    """
    if isinstance(arch, str):
        from harness.arch.registry import resolve

        arch = resolve(arch)
    dev = resolve_device(device)
    plan = plan_precision(precision, dev)
    d = DEFAULTS[dev.type]
    warmup_steps = int(d["warmup_steps"] if warmup_steps is None else warmup_steps)
    min_steps = int(d["min_steps"] if min_steps is None else min_steps)
    min_seconds = float(d["min_seconds"] if min_seconds is None else min_seconds)
    if batch_size < 1:
        raise ConfigurationError(f"batch size must be at least 1, got {batch_size}")
    if warmup_steps < 0 or min_steps < 1 or min_seconds < 0:
        raise ConfigurationError("warm-up steps must be >= 0, steps >= 1 and seconds >= 0")
    if compile_mode is not None and compile_mode not in COMPILE_MODES:
        raise ConfigurationError(
            f"unknown torch.compile mode {compile_mode!r}; use one of {', '.join(COMPILE_MODES)}"
        )
    if dev.type == "cuda" and cudnn_benchmark is None:
        cudnn_benchmark = True
    if dev.type == "cpu":
        cudnn_benchmark = None

    notes: list[str] = [plan.fallback_reason] if plan.fallback_reason else []
    with _threads(threads if dev.type == "cpu" else None) as n_threads:
        estimate = None
        if dev.type == "cpu" and memory_check:
            try:
                estimate = estimate_training_memory(arch, batch_size, size=size, tiny=tiny)
            except HarnessError:
                raise
            except Exception as exc:  # a model that cannot be built on meta: no pre-check
                notes.append(f"memory pre-check skipped ({type(exc).__name__} on the meta device)")
            if estimate is not None:
                if estimate.note:
                    notes.append(f"memory pre-check: {estimate.note}")
                check_cpu_memory(estimate, available_memory_bytes())
        bs = batch_size
        while True:
            oom = False
            try:
                with precision_settings(plan, cudnn_benchmark=cudnn_benchmark):
                    return _run_once(
                        arch,
                        dev=dev,
                        plan=plan,
                        batch_size=bs,
                        requested_batch_size=batch_size,
                        size=size,
                        tiny=tiny,
                        channels_last=channels_last,
                        compile_mode=compile_mode,
                        cudnn_benchmark=cudnn_benchmark,
                        warmup_steps=warmup_steps,
                        min_steps=min_steps,
                        min_seconds=min_seconds,
                        threads=n_threads,
                        seed=seed,
                        monitor=monitor,
                        progress=progress,
                        memory_estimate=estimate.total_bytes if estimate else None,
                        notes=notes,
                        wrap_model=wrap_model,
                        exact_steps=exact_steps,
                    )
            except torch.OutOfMemoryError:
                oom = True  # free the traceback's tensors before retrying
            if oom:
                gc.collect()
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
                if not retry_oom or bs == 1:
                    raise ConfigurationError(
                        f"{arch.name} ran out of {dev.type.upper()} memory at batch {bs}"
                        + ("" if bs == 1 else "; try a smaller --batch")
                    )
                msg = f"out of memory at batch {bs}; retrying at batch {bs // 2}"
                print(f"harness: {arch.name}: {msg}", file=sys.stderr)
                notes.append(msg)
                bs //= 2


def _run_once(
    arch: Architecture,
    *,
    dev: torch.device,
    plan: PrecisionPlan,
    batch_size: int,
    requested_batch_size: int,
    size: int | None,
    tiny: bool,
    channels_last: bool,
    compile_mode: str | None,
    cudnn_benchmark: bool | None,
    warmup_steps: int,
    min_steps: int,
    min_seconds: float,
    threads: int,
    seed: int,
    monitor: WindowMonitor | None,
    progress: bool,
    memory_estimate: int | None,
    notes: list[str],
    wrap_model: Callable[[nn.Module], nn.Module] | None = None,
    exact_steps: bool = False,
) -> TimingResult:
    cuda = dev.type == "cuda"
    notes = list(notes)
    device_ctx = torch.cuda.device(dev) if cuda else contextlib.nullcontext()
    with device_ctx:
        if cuda:
            torch.cuda.synchronize(dev)
            torch.cuda.reset_peak_memory_stats(dev)
            rss_reset = False
        else:
            rss_reset = _reset_peak_rss()

        torch.manual_seed(seed)
        with torch.device(dev):
            model: nn.Module = arch.build(tiny=tiny)
        model.to(dev)
        batch: Batch = arch.example_batch(batch_size, size=size, tiny=tiny, device=dev, seed=seed)
        used_size = size if size is not None else (arch.tiny_size if tiny else arch.default_size)
        applied_cl = False
        if channels_last:
            (args, kwargs), applied_cl = _to_channels_last((batch.args, dict(batch.kwargs)))
            if applied_cl:
                model.to(memory_format=torch.channels_last)
                batch = Batch(
                    args=tuple(args), kwargs=kwargs, targets=batch.targets, size=batch.size
                )
            else:
                notes.append(
                    "channels_last requested but the input has no 4-D image tensor: ignored"
                )
        model.train()
        runner: nn.Module = wrap_model(model) if wrap_model is not None else model
        optimizer = arch.optimizer.build(runner.parameters())
        if compile_mode is not None:
            runner = torch.compile(runner, mode=None if compile_mode == "default" else compile_mode)
        scaler = grad_scaler(plan)

        def step() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            with autocast(plan):
                loss = arch.training_loss(runner, batch)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            return loss

        # -- warm-up ------------------------------------------------------------------------
        warm: list[float] = []
        settle = cuda and not exact_steps  # ranks of a DDP step must agree on the step count
        max_warm = max(30, MAX_WARMUP_FACTOR * warmup_steps) if settle else warmup_steps
        try:
            for i in range(max_warm if warmup_steps else 0):
                if cuda:
                    e0, e1 = (
                        torch.cuda.Event(enable_timing=True),
                        torch.cuda.Event(enable_timing=True),
                    )
                    e0.record()
                    step()
                    e1.record()
                    e1.synchronize()
                    warm.append(e0.elapsed_time(e1) / 1e3)
                else:
                    t0 = time.perf_counter()
                    step()
                    warm.append(time.perf_counter() - t0)
                if i + 1 >= warmup_steps and (not settle or _settled(warm)):
                    break
            else:
                if warmup_steps:
                    notes.append(f"warm-up step times had not settled after {max_warm} steps")
        except torch.OutOfMemoryError:
            raise
        except HarnessError:
            raise
        except Exception as exc:
            if compile_mode is None:
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ConfigurationError(
                f"torch.compile(mode={compile_mode!r}) failed: {type(exc).__name__}: {first}; "
                "run without --compile"
            ) from exc

        # -- timed steps --------------------------------------------------------------------
        guess = sorted(warm[-SETTLE_STEPS:])[len(warm[-SETTLE_STEPS:]) // 2] if warm else 0.0
        total = (
            max(min_steps, math.ceil(min_seconds / guess))
            if guess > 0 and not exact_steps
            else min_steps
        )
        bar = progress_bar(
            total=total,
            desc=f"timing {arch.name}",
            unit="step",
            leave=False,
            **({"disable": True} if not progress else {}),
        )
        name = f"{arch.name} batch={batch_size} {plan.used}"
        begun = False
        try:
            if cuda:
                torch.cuda.synchronize(dev)
            if monitor is not None:
                monitor.begin_window(name)
                begun = True
            wall0 = time.perf_counter()
            n = 0
            if cuda:
                events = [torch.cuda.Event(enable_timing=True)]
                events[0].record()
                while True:
                    loss = step()
                    ev = torch.cuda.Event(enable_timing=True)
                    ev.record()
                    events.append(ev)
                    n += 1
                    bar.update()
                    if n >= min_steps and (
                        exact_steps or time.perf_counter() - wall0 >= min_seconds
                    ):
                        break
                torch.cuda.synchronize(dev)
                wall = time.perf_counter() - wall0
                samples = [events[i].elapsed_time(events[i + 1]) / 1e3 for i in range(n)]
            else:
                marks = [wall0]
                while True:
                    loss = step()
                    marks.append(time.perf_counter())
                    n += 1
                    bar.update()
                    if n >= min_steps and (exact_steps or marks[-1] - wall0 >= min_seconds):
                        break
                wall = marks[-1] - wall0
                samples = [marks[i + 1] - marks[i] for i in range(n)]
            window = monitor.end_window(name) if monitor is not None else None
            begun = False
        finally:
            bar.close()
            if begun:  # an error inside the window: close it, keep the original error
                with contextlib.suppress(Exception):
                    monitor.end_window(name)  # type: ignore[union-attr]

        final_loss = float(loss.detach().float())
        if not math.isfinite(final_loss):
            notes.append(f"final training loss is {final_loss}")
        if cuda:
            peak = int(torch.cuda.max_memory_allocated(dev))
            peak_src = "cuda-max-allocated"
            device_name = torch.cuda.get_device_name(dev)
        else:
            peak = _peak_rss_bytes()
            peak_src = "cpu-peak-rss" if rss_reset else "cpu-peak-rss-process"
            device_name = cpu_identity()[0] or "CPU"

    stats = summarize(samples)
    if stats.noisy:
        notes.append(
            f"noisy: IQR/median = {stats.iqr_ratio:.2f} > {NOISY_IQR_RATIO} "
            "(other load on the machine, thermal throttling, or too few steps)"
        )
    return TimingResult(
        arch=arch.name,
        device=str(dev),
        device_name=device_name,
        requested_batch_size=requested_batch_size,
        batch_size=batch_size,
        size=used_size,
        size_kind=arch.size_kind,
        tiny=tiny,
        precision=plan.requested,
        precision_used=plan.used,
        autocast_dtype=plan.autocast_dtype_name,
        grad_scaler=plan.grad_scaler,
        channels_last=applied_cl,
        compile_mode=compile_mode,
        cudnn_benchmark=cudnn_benchmark,
        seed=seed,
        threads=threads,
        warmup_steps=len(warm),
        samples_s=tuple(samples),
        median_s=stats.median_s,
        mean_s=stats.mean_s,
        iqr_s=stats.iqr_s,
        p90_s=stats.p90_s,
        min_s=stats.min_s,
        max_s=stats.max_s,
        noisy=stats.noisy,
        samples_per_s=batch_size / stats.median_s,
        timed_s=math.fsum(samples),
        window_s=wall,
        peak_memory_bytes=peak,
        peak_memory_source=peak_src,
        memory_estimate_bytes=memory_estimate,
        final_loss=final_loss,
        torch_version=torch.__version__,
        notes=tuple(notes),
        window=window,
    )

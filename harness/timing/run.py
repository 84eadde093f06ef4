"""Time the training steps of one configuration: `time_training(arch, request)`.

The run is: check the request and the device, check host memory (CPU), build the step, warm
up, time one window of steps, and record every sample with the settings that produced it. How
the device is timed and what it reports is chosen once (`harness.timing.runtime`); the set-up
(`harness.timing.setup`) and the step loops (`harness.timing.loop`) are the same everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from harness.arch.spec import Architecture
from harness.console import progress as progress_bar
from harness.hardware.devices import resolve_device
from harness.hardware.precision import PrecisionPlan, plan_precision, precision_settings
from harness.timing.loop import (
    TimedWindow,
    WarmUp,
    WindowMonitor,
    expected_steps,
    timed_window,
    warm_up,
)
from harness.timing.memory import PeakMemory
from harness.timing.request import (
    StepBudget,
    TimingRequest,
    check_request,
    cudnn_benchmark_setting,
)
from harness.timing.result import TimingResult
from harness.timing.runtime import DeviceRuntime, runtime_for
from harness.timing.setup import (
    ModelWrapper,
    PreparedStep,
    compile_failures_as_errors,
    precheck_host_memory,
    prepare_step,
    retry_out_of_memory,
)
from harness.timing.stats import NOISY_IQR_RATIO, summarize


@dataclass(frozen=True)
class _Run:
    """What every attempt of one request shares (an out-of-memory retry changes the batch)."""

    arch: Architecture
    request: TimingRequest
    plan: PrecisionPlan
    runtime: DeviceRuntime
    budget: StepBudget
    cudnn_benchmark: bool | None
    threads: int
    memory_estimate: int | None


def time_training(
    arch: Architecture | str,
    request: TimingRequest,
    *,
    monitor: WindowMonitor | None = None,
    progress: bool = False,
    wrap_model: ModelWrapper | None = None,
) -> TimingResult:
    """Time training steps of `arch` as `request` says.

    `monitor` wraps exactly the timed steps (an energy monitor); `progress` shows a progress
    bar; `wrap_model` wraps the model on the device before the optimizer and torch.compile
    (for example DistributedDataParallel); the loss then runs through the wrapper.
    """
    if isinstance(arch, str):
        from harness.arch.registry import resolve

        arch = resolve(arch)
    dev = resolve_device(request.device)
    plan = plan_precision(request.precision, dev)
    budget = check_request(request, dev.type)
    cudnn_benchmark = cudnn_benchmark_setting(request, dev.type)
    runtime = runtime_for(dev)
    notes: tuple[str, ...] = (plan.fallback_reason,) if plan.fallback_reason else ()
    with runtime.threads(request.threads) as threads:
        estimate = None
        if runtime.checks_host_memory and request.memory_check:
            estimate, more = precheck_host_memory(arch, request)
            notes += more
        run = _Run(
            arch,
            request,
            plan,
            runtime,
            budget,
            cudnn_benchmark,
            threads,
            estimate.total_bytes if estimate else None,
        )

        def attempt(batch_size: int, attempt_notes: tuple[str, ...]) -> TimingResult:
            with precision_settings(plan, cudnn_benchmark=cudnn_benchmark):
                return _run_once(run, batch_size, attempt_notes, monitor, progress, wrap_model)

        return retry_out_of_memory(
            attempt,
            request.batch_size,
            what=arch.name,
            device_kind=dev.type,
            release_cache=runtime.release_cache,
            notes=notes,
            retry=request.retry_oom,
        )


def _run_once(
    run: _Run,
    batch_size: int,
    notes: tuple[str, ...],
    monitor: WindowMonitor | None,
    progress: bool,
    wrap_model: ModelWrapper | None,
) -> TimingResult:
    """One attempt at `batch_size`: build, warm up, time the window, read memory."""
    runtime, budget = run.runtime, run.budget
    with runtime.activate():
        memory = runtime.start_peak_memory()
        prepared = prepare_step(
            run.arch, run.request, run.plan, runtime.device, batch_size, wrap_model
        )
        clock = runtime.clock()
        settle = runtime.settles_warmup and not budget.exact_steps  # DDP ranks agree on steps
        with compile_failures_as_errors(run.request.compile_mode):
            warm = warm_up(prepared.step, clock, budget.warmup_steps, settle=settle)
        memory.after_warmup()  # the timed steps' own peak, without warm-up and trial workspaces
        bar = progress_bar(
            total=expected_steps(warm, budget),
            desc=f"timing {run.arch.name}",
            unit="step",
            leave=False,
            **({"disable": True} if not progress else {}),
        )
        try:
            window = timed_window(
                prepared.step,
                clock,
                budget,
                name=f"{run.arch.name} batch={batch_size} {run.plan.used}",
                monitor=monitor,
                on_step=bar.update,
            )
        finally:
            bar.close()
        final_loss = float(window.final_loss.detach().float())
        peak_memory = memory.read()
        device_name = runtime.name()
    return _record(
        run,
        batch_size,
        prepared,
        warm,
        window,
        final_loss=final_loss,
        peak_memory=peak_memory,
        device_name=device_name,
        notes=notes,
    )


def _record(
    run: _Run,
    batch_size: int,
    prepared: PreparedStep,
    warm: WarmUp,
    window: TimedWindow,
    *,
    final_loss: float,
    peak_memory: PeakMemory,
    device_name: str,
    notes: tuple[str, ...],
) -> TimingResult:
    """The record of one timed window, with the notes on anything worth a second look."""
    notes += prepared.notes + ((warm.note,) if warm.note else ())
    if not math.isfinite(final_loss):
        notes += (f"final training loss is {final_loss}",)
    samples = window.samples_s
    stats = summarize(samples)
    if stats.noisy:
        notes += (
            f"noisy: IQR/median = {stats.iqr_ratio:.2f} > {NOISY_IQR_RATIO} "
            "(other load on the machine, thermal throttling, or too few steps)",
        )
    request, plan = run.request, run.plan
    return TimingResult(
        arch=run.arch.name,
        device=str(run.runtime.device),
        device_name=device_name,
        requested_batch_size=request.batch_size,
        batch_size=batch_size,
        size=prepared.size,
        size_kind=run.arch.size_kind,
        tiny=request.tiny,
        precision=plan.requested,
        precision_used=plan.used,
        autocast_dtype=plan.autocast_dtype_name,
        grad_scaler=plan.grad_scaler,
        channels_last=prepared.channels_last,
        compile_mode=request.compile_mode,
        cudnn_benchmark=run.cudnn_benchmark,
        seed=request.seed,
        threads=run.threads,
        warmup_steps=len(warm.samples_s),
        samples_s=samples,
        median_s=stats.median_s,
        mean_s=stats.mean_s,
        iqr_s=stats.iqr_s,
        p90_s=stats.p90_s,
        min_s=stats.min_s,
        max_s=stats.max_s,
        noisy=stats.noisy,
        samples_per_s=batch_size / stats.median_s,
        timed_s=math.fsum(samples),
        window_s=window.wall_s,
        peak_memory_bytes=peak_memory.run_bytes,
        peak_memory_source=peak_memory.source,
        memory_estimate_bytes=run.memory_estimate,
        final_loss=final_loss,
        torch_version=torch.__version__,
        peak_memory_steady_bytes=peak_memory.steady_bytes,
        peak_memory_run_bytes=peak_memory.run_bytes,
        peak_reserved_bytes=peak_memory.reserved_bytes,
        notes=notes,
        window=window.measurement,
    )

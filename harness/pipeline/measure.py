"""The one measuring pipeline: resolve -> count -> time (energy over the timed window) -> peak ->
cost -> record.

Every entry point runs this function: `harness measure NAME`, `harness time NAME`, each sweep
worker (`harness.launch.process.DEFAULT_TARGET`) and each rank of a torchrun job, which passes its
model wrapper (DistributedDataParallel) in `MeasureOptions`. A stage that fails keeps what the
earlier stages measured: the record names the failing stage and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigurationError, HarnessError, one_line
from harness.hardware.environment import capture_environment
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement

PhaseCallback = Callable[[str], None]


@dataclass(frozen=True)
class MeasureOptions:
    """How to run the pipeline beyond what the configuration says; nothing here enters the key.

    `count_optional` turns a failed count into a note (`harness time`); `device` is the device
    this process measures when it differs from the configuration's (a torchrun rank's local
    GPU); `wrap_model`, `exact_steps` and `retry_oom` are for data-parallel ranks, which must all
    run the same steps at the same batch.
    """

    progress: bool = False
    count: bool = True
    count_optional: bool = False
    energy: bool = True
    energy_backends: tuple[str, ...] | None = None
    matmul_peak: bool = True
    peak_seconds: float | None = None  # each matmul size sustained for (None: the default)
    cost: bool = True
    device: str | None = None
    threads: int | None = None
    cudnn_benchmark: bool | None = None
    wrap_model: Callable[[Any], Any] | None = None
    exact_steps: int | None = None
    retry_oom: bool = True
    raise_errors: bool = False  # raise a failure instead of recording it (`harness time`)
    # before the idle baseline on a GPU: wait up to `cooldown_max_s` for the GPU to reach
    # `cooldown_temp_c` (None: wait `cooldown_max_s`; 0 s: no cool-down); harness.energy.cooldown
    cooldown_max_s: float = 60.0
    cooldown_temp_c: float | None = 50.0
    host_share: float | None = None  # the part of the host's energy charged; None: by GPUs


class _Stages:
    """Per-stage timing and the phase callback, so a record says where its time went."""

    def __init__(self, phase: PhaseCallback | None) -> None:
        self.phase = phase
        self.seconds: dict[str, float] = {}
        self.name = "resolve"
        self._since = time.perf_counter()

    # The stage a failure is reported under, for phases whose name says more than the stage.
    STAGE_OF = {"cool-down": "time", "energy baseline": "time", "matmul peak": "peak"}

    @property
    def stage(self) -> str:
        return self.STAGE_OF.get(self.name, self.name)

    def enter(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[self.name] = self.seconds.get(self.name, 0.0) + now - self._since
        self.name, self._since = name, now
        if self.phase is not None:
            self.phase(name)


def measure(
    config: MeasurementConfig,
    phase: PhaseCallback | None = None,
    *,
    options: MeasureOptions | None = None,
    architecture: Any = None,
) -> Measurement:
    """Measure one configuration; never raises for a failure of the measured network.

    The record's `status` is "ok", or "error" with the failing stage (resolve, count, time,
    peak, burden) in front of the message; the sections of the stages before it are kept.
    """
    options = options or MeasureOptions()
    stages = _Stages(phase)
    sections: dict[str, Any] = {}
    t0 = time.perf_counter()
    try:
        _run_stages(config, options, architecture, stages, sections)
    except Exception as exc:
        if options.raise_errors:
            raise
        return _failed(config, sections, stages.stage, exc)
    env = sections.setdefault("environment", {})
    env["measure_seconds"] = time.perf_counter() - t0
    env["phase_seconds"] = {k: round(v, 3) for k, v in stages.seconds.items()}
    return Measurement.create(config, status="ok", **sections)


def _run_stages(
    config: MeasurementConfig,
    options: MeasureOptions,
    architecture: Any,
    stages: _Stages,
    sections: dict[str, Any],
) -> None:
    stages.enter("resolve")
    if options.cost and config.world_size > 1:
        raise ConfigurationError(
            f"{config.label()}: world_size {config.world_size} is measured under torchrun "
            f"(`harness measure NAME --nproc-per-node {config.world_size}`); one process "
            "cannot measure it, and its burden must not bill processors that did not run"
        )
    counted, arch, truncation = _architectures(config, architecture)
    device = options.device or config.device
    sections["architecture"] = arch.summary()
    sections["environment"] = capture_environment(device)

    counts = None
    if options.count and not options.count_optional:
        stages.enter("count")
        counts = count_training_step(counted, config, config.batch_size)
        sections["counts"] = counts.to_dict()

    stages.enter("cool-down" if options.energy else "time")
    timing, cooled = _time(arch, config, options, stages)
    if options.count and (counts is None or timing.batch_size != counts.batch_size):
        # counted after timing where a count is optional, or again after an out-of-memory
        # retry halved the batch: the counts describe the step that was timed
        stages.enter("count")
        counts = _count_after_timing(counted, config, timing, options, sections)
    energy = timing.window
    sections["energy"] = energy.to_dict() if energy is not None else {}
    if cooled is not None:
        sections["energy"]["cooldown"] = cooled.to_dict()

    stages.enter("matmul peak")
    peak = _peak(device, timing, options)
    if peak.get("device_identity_basis") is not None:  # known once CUDA has started
        for fact in ("device_identity_basis", "device_pci_bus_id", "device_uuid"):
            sections["environment"][fact] = peak.get(fact)
    step_s = timing.median_s * (truncation.scale if truncation is not None else 1.0)
    if options.matmul_peak:
        peak = _checked_peak(peak, device, timing, counts, options, step_s)

    stages.enter("burden")
    sections["timing"] = timing_section(timing, counts, peak, truncation=truncation)
    if architecture is None and config.truncate_layers == "auto":
        from harness.pipeline.variant import whole_model_note

        if (note := whole_model_note(config, truncation)) is not None:
            sections["timing"]["truncation_note"] = note
    if options.cost:
        from harness.pipeline.variant import energy_steps

        window = energy_steps(timing.steps, truncation)
        step = (step_s, timing.batch_size, window, timing.precision_used)
        sections["burden"] = burden_section(arch, config, counts, step, energy, peak, processors=1)
        if truncation is not None:
            sections["burden"].setdefault("notes", []).append(sections["timing"]["scaled_basis"])
    stages.enter("done")


def _architectures(config: MeasurementConfig, given: Any) -> tuple[Any, Any, Any]:
    """(counted, timed, truncation): an architecture the caller gives is used as it is;
    otherwise the configuration's, with its checkpointing and truncation applied."""
    if given is not None:
        return given, given, None
    from harness.pipeline.variant import measured_variants

    v = measured_variants(config.resolve_architecture(), config)
    return v.counted, v.timed, v.truncation


def _failed(
    config: MeasurementConfig, sections: dict[str, Any], stage: str, exc: Exception
) -> Measurement:
    """A network that crashes is a row, not a traceback: the record names the failing stage."""
    message = str(exc) if isinstance(exc, HarnessError) else f"{type(exc).__name__}: {exc}"
    return Measurement.create(
        config, status="error", error=one_line(f"{stage}: {message}"), **sections
    )


# --------------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------------


def count_training_step(arch: Any, config: MeasurementConfig, batch_size: int) -> Any:
    """Counted forward, backward and optimizer FLOPs of one training step of `batch_size`."""
    from harness.counting.count import count_flops

    return count_flops(arch, batch_size=batch_size, size=config.size, tiny=config.tiny, train=True)


def _count_after_timing(
    arch: Any,
    config: MeasurementConfig,
    timing: Any,
    options: MeasureOptions,
    sections: dict[str, Any],
) -> Any:
    try:
        counts = count_training_step(arch, config, timing.batch_size)
    except Exception as exc:
        if not options.count_optional:
            raise
        # a count failure must not hide a finished timing
        sections["counts"] = {"error": one_line(f"{type(exc).__name__}: {exc}")}
        return None
    sections["counts"] = counts.to_dict()
    return counts


def _time(
    arch: Any, config: MeasurementConfig, options: MeasureOptions, stages: _Stages
) -> tuple[Any, Any]:
    """(the timing, the cool-down's result or None): cool-down, idle baseline, timed steps."""
    device = options.device or config.device
    if not options.energy:
        return _time_training(arch, config, options, device, None), None
    from harness.energy import make_energy_monitor
    from harness.energy.cooldown import CooldownSettings, cool_down_device

    backends = list(options.energy_backends) if options.energy_backends else None
    country = config.country or "USA"
    settings = CooldownSettings(max_s=options.cooldown_max_s, target_c=options.cooldown_temp_c)
    monitor = make_energy_monitor(
        device, backends=backends, country=country, pue=config.pue, host_share=options.host_share
    )
    # the previous configuration's heat must not enter this one's idle baseline
    cooled = cool_down_device(device, settings, show_progress=options.progress)
    stages.enter("energy baseline")
    # start() takes the idle baseline; the energy window covers exactly the timed steps
    with monitor as mon:
        stages.enter("time")
        return _time_training(arch, config, options, device, mon), cooled


def _time_training(
    arch: Any, config: MeasurementConfig, options: MeasureOptions, device: str, monitor: Any
) -> Any:
    from harness.timing.request import TimingRequest
    from harness.timing.run import time_training

    # an energy window shorter than the monitor's resolution is lengthened, not guessed
    min_seconds = max(config.min_seconds, getattr(monitor, "min_window_s", 0.0))
    exact = options.exact_steps is not None
    request = TimingRequest(
        batch_size=config.batch_size,
        size=config.size,
        tiny=config.tiny,
        device=device,
        precision=config.precision,
        channels_last=config.channels_last,
        compile_mode=config.compile_mode,
        cudnn_benchmark=options.cudnn_benchmark,
        warmup_steps=config.warmup_steps,
        min_steps=options.exact_steps if exact else config.min_steps,
        min_seconds=min_seconds,
        threads=options.threads,
        seed=config.seed,
        exact_steps=exact,
        retry_oom=options.retry_oom,
    )
    return time_training(
        arch, request, monitor=monitor, progress=options.progress, wrap_model=options.wrap_model
    )


def _peak(device: str, timing: Any, options: MeasureOptions) -> dict[str, Any]:
    from harness.hardware.peaks import peak_figures

    return peak_figures(
        device,
        timing.precision_used,
        timing.threads,
        measure=options.matmul_peak,
        seconds=options.peak_seconds,
    )


def _checked_peak(
    peak: dict[str, Any],
    device: str,
    timing: Any,
    counts: Any,
    options: MeasureOptions,
    step_s: float,
) -> dict[str, Any]:
    """A measured peak the step beats is measured again, longer; then kept or marked."""
    from dataclasses import replace

    from harness.hardware.matmul_peak import sustain_seconds
    from harness.pipeline.peak_check import achieved_rate, check_measured_peak

    def remeasure(seconds: float) -> dict[str, Any]:
        return _peak(device, timing, replace(options, peak_seconds=seconds))

    achieved = achieved_rate(counts, step_s)
    seconds = sustain_seconds(options.peak_seconds)
    return check_measured_peak(peak, achieved, remeasure, seconds=seconds)


# --------------------------------------------------------------------------------------------
# Record sections shared with the data-parallel aggregate
# --------------------------------------------------------------------------------------------


def timing_section(
    timing: Any, counts: Any, peak: dict[str, Any], *, devices: int = 1, truncation: Any = None
) -> dict[str, Any]:
    """The record's `timing`: the timer's figures, utilisation against both peaks, the peaks.
    A run timed on K of L layers adds the scaled figures; its utilisation uses them."""
    from harness.cost.utilisation import utilisation

    section = timing.to_dict() if hasattr(timing, "to_dict") else dict(timing)
    section.pop("window", None)  # the energy section holds it
    step_s = section["median_s"]
    if truncation is not None:
        from harness.pipeline.variant import scaled_section

        step_s = scaled_section(section, truncation)
    section["utilisation"] = utilisation(
        counts.train_step_flops if counts is not None else None,
        step_s,
        datasheet_peak_flop_per_s=peak["datasheet_flop_per_s"],
        measured_peak_flop_per_s=peak["measured_flop_per_s"],
        devices=devices,
    ).to_dict()
    from harness.cost.decoder_mfu import decoder_mfu

    section["utilisation"].update(  # decoders: MFU by counted FLOPs and by PaLM's formula
        decoder_mfu(counts, step_s, peak["datasheet_flop_per_s"], devices)
    )
    if truncation is not None:
        section["utilisation"]["step_time_basis"] = "scaled_median_s, full model's count"
    section["peak"] = peak
    return section


def burden_section(
    arch: Any,
    config: MeasurementConfig,
    counts: Any,
    step: tuple[float, int, int, str],
    energy: Any,
    peak: dict[str, Any],
    *,
    processors: int,
) -> dict[str, Any]:
    """The record's `burden`: hardware burden, projection, energy, carbon and dollars.

    `step` is (step time in s, batch size, steps the energy window covered, precision used);
    `processors` is the number of processes whose steps were measured (never the configured
    world size of a run that did not happen).
    """
    from harness.cost.burden import MeasuredStep, PeakUsed, compute_burden
    from harness.pipeline.conversions import cost_settings

    step_time_s, batch_size, window_steps, precision = step
    step = MeasuredStep(
        step_time_s=step_time_s,
        batch_size=batch_size,
        processors=processors,
        train_step_flops=counts.train_step_flops if counts is not None else None,
        window_steps=window_steps,
        device_kind=config.device_kind,
    )
    from harness.hardware.peaks import fp32_peak

    fp32, fp32_source = fp32_peak(peak, precision)
    used = PeakUsed(
        flop_per_s=peak["burden_peak_flop_per_s"],
        source=peak["burden_peak_source"],
        precision=precision,
        device_name=peak["device_name"],
        fp32_flop_per_s=fp32,
        fp32_source=fp32_source,
    )
    settings = cost_settings(config)
    return compute_burden(
        step, used, recipe=arch.recipe, energy=energy, settings=settings
    ).to_dict()

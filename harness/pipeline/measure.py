"""One measurement: count -> time (with energy over the timed window) -> burden -> record.

This is the function a sweep runs in a worker process for each configuration
(`harness.launch.process.DEFAULT_TARGET`), and what `harness measure NAME` calls directly. A stage that
fails keeps what the earlier stages measured: the record says which stage failed and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from harness.errors import HarnessError, one_line
from harness.hardware.environment import capture_environment
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement

PhaseCallback = Callable[[str], None]


def measure_config(
    config: MeasurementConfig,
    phase: PhaseCallback | None = None,
    *,
    progress: bool = False,
    energy_backends: tuple[str, ...] | None = None,
    matmul_peak: bool = True,
    architecture: Any = None,
) -> Measurement:
    """Measure one configuration; never raises for a failure of the measured network.

    Stages: resolve the architecture, count FLOPs (meta tensors), time training steps with an
    energy monitor around exactly the timed steps, measure the matmul peak, and compute
    burden, carbon and dollars. The record's `status` is "ok" or "error" (with the stage).
    """
    phase_seconds: dict[str, float] = {}
    clock = [time.perf_counter(), "start"]

    def say(name: str) -> None:
        now = time.perf_counter()
        phase_seconds[clock[1]] = phase_seconds.get(clock[1], 0.0) + now - clock[0]
        clock[0], clock[1] = now, name
        if phase is not None:
            phase(name)

    sections: dict[str, Any] = {}
    stage = "resolve"
    t0 = time.perf_counter()
    try:
        say("resolve")
        arch = architecture if architecture is not None else config.resolve_architecture()
        sections["architecture"] = arch.summary()
        sections["environment"] = capture_environment(config.device)

        stage = "count"
        say("count")
        counts = _count(arch, config, config.batch_size)
        sections["counts"] = counts.to_dict()

        stage = "time"
        say("energy baseline")
        with _energy_monitor(config, energy_backends) as monitor:  # start(): idle baseline
            say("time")
            timing = _time(arch, config, monitor, progress=progress)
        if timing.batch_size != config.batch_size:  # an out-of-memory retry halved the batch
            counts = _count(arch, config, timing.batch_size)
            sections["counts"] = counts.to_dict()
        energy = timing.window
        sections["energy"] = energy.to_dict() if energy is not None else {}

        stage = "peak"
        say("matmul peak")
        peak_info = _peaks(config, timing, measure=matmul_peak)

        stage = "burden"
        say("burden")
        timing_dict = timing.to_dict()
        timing_dict.pop("window", None)  # the energy section holds it
        timing_dict["utilisation"] = _utilisation(counts, timing, peak_info).to_dict()
        timing_dict["peak"] = peak_info
        sections["timing"] = timing_dict
        sections["burden"] = _burden(arch, config, counts, timing, energy, peak_info).to_dict()
        say("done")
    except HarnessError as exc:
        return _failed(config, sections, stage, str(exc))
    except Exception as exc:  # a network that crashes is a row, not a traceback
        return _failed(config, sections, stage, f"{type(exc).__name__}: {exc}")
    env = sections.setdefault("environment", {})
    env["measure_seconds"] = time.perf_counter() - t0
    env["phase_seconds"] = {k: round(v, 3) for k, v in phase_seconds.items() if k != "start"}
    return Measurement.create(config, status="ok", **sections)


def _failed(
    config: MeasurementConfig, sections: dict[str, Any], stage: str, message: str
) -> Measurement:
    return Measurement.create(
        config, status="error", error=one_line(f"{stage}: {message}"), **sections
    )


# --------------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------------


def _count(arch: Any, config: MeasurementConfig, batch_size: int):
    from harness.counting.count import count_flops

    return count_flops(arch, batch_size=batch_size, size=config.size, tiny=config.tiny, train=True)


def _energy_monitor(config: MeasurementConfig, backends: tuple[str, ...] | None):
    from harness.energy import make_energy_monitor

    return make_energy_monitor(
        config.device,
        backends=list(backends) if backends else None,
        country=config.country or "USA",
        pue=config.pue,
    )


def _time(arch: Any, config: MeasurementConfig, monitor: Any, *, progress: bool):
    from harness.timing.request import TimingRequest
    from harness.timing.run import time_training

    return time_training(
        arch,
        TimingRequest(
            batch_size=config.batch_size,
            size=config.size,
            tiny=config.tiny,
            device=config.device,
            precision=config.precision,
            channels_last=config.channels_last,
            compile_mode=config.compile_mode,
            warmup_steps=config.warmup_steps,
            min_steps=config.min_steps,
            # an energy window shorter than the monitor's resolution is lengthened, not guessed
            min_seconds=max(config.min_seconds, getattr(monitor, "min_window_s", 0.0)),
            seed=config.seed,
        ),
        monitor=monitor,
        progress=progress,
    )


def _peaks(config: MeasurementConfig, timing: Any, *, measure: bool) -> dict[str, Any]:
    from harness.hardware.peaks import peak_figures

    return peak_figures(config.device, timing.precision_used, timing.threads, measure=measure)


def _utilisation(counts: Any, timing: Any, peak: dict[str, Any]):
    from harness.cost.utilisation import utilisation

    return utilisation(
        counts.train_step_flops,
        timing.median_s,
        datasheet_peak_flop_per_s=peak["datasheet_flop_per_s"],
        measured_peak_flop_per_s=peak["measured_flop_per_s"],
    )


def _burden(
    arch: Any,
    config: MeasurementConfig,
    counts: Any,
    timing: Any,
    energy: Any,
    peak: dict[str, Any],
):
    from harness.cost.burden import compute_burden

    return compute_burden(
        step_time_s=timing.median_s,
        batch_size=timing.batch_size,
        processors=config.world_size,
        peak_flop_per_s=peak["burden_peak_flop_per_s"],
        peak_source=peak["burden_peak_source"],
        precision=timing.precision_used,
        device_name=peak["device_name"],
        recipe=arch.recipe,
        train_step_flops=counts.train_step_flops,
        energy=energy,
        window_steps=timing.steps,
        grid=config.country or "USA",
        pue=config.pue,
        usd_per_device_hour=config.price_per_gpu_hour,
    )

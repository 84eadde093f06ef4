"""The one measuring pipeline, stage by stage: what a failing stage leaves in the record, the
recount after an out-of-memory retry, the energy window's lengthening, and a real worker's
record through the report."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

import harness.counting.count as count_module
import harness.hardware.peaks as peaks_module
import harness.timing.run as timing_module
from harness.energy import EnergyMeasurement
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.measure import MeasureOptions, measure

# A two-layer MLP whose counts are known by hand: 10 -> 20 -> 5, forward 300 MACs per example.
MLP = """
import torch.nn as nn

def mlp():
    return nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
"""
FORWARD_MACS = 10 * 20 + 20 * 5


def _backward_flops(batch: int) -> int:
    # fc2: input and weight gradients (2 x b*20*5 MACs); fc1: weight gradient only (b*10*20;
    # the input needs no gradient); 2 FLOPs per MAC.
    return 2 * (2 * batch * 20 * 5 + batch * 10 * 20)


@pytest.fixture()
def mlp_config(tmp_path: Path) -> MeasurementConfig:
    path = tmp_path / "mlp_net.py"
    path.write_text(textwrap.dedent(MLP))
    return MeasurementConfig(
        f"{path}:mlp",
        batch_size=4,
        input_shape=(1, 10),
        warmup_steps=1,
        min_steps=2,
        min_seconds=0.0,
    )


QUICK = MeasureOptions(energy=False, matmul_peak=False)


def _boom(*args, **kwargs):
    raise RuntimeError("stage exploded")


def test_a_healthy_run_fills_every_section(mlp_config):
    record = measure(mlp_config, options=QUICK)
    assert record.ok, record.error
    assert record.counts["forward_macs_per_example"] == FORWARD_MACS
    assert record.counts["forward_flops"] == 2 * 4 * FORWARD_MACS
    assert record.counts["backward_flops"] == _backward_flops(4)
    assert record.timing["batch_size"] == 4 and len(record.timing["samples_s"]) >= 2
    assert record.burden["step_time_s"] == record.timing["median_s"]
    phases = record.environment["phase_seconds"]
    assert {"resolve", "count", "time", "matmul peak", "burden"} <= set(phases)


def test_an_unknown_architecture_fails_at_resolve_with_nothing_measured():
    record = measure(MeasurementConfig("no_such_network_anywhere"), options=QUICK)
    assert record.status == "error" and record.error.startswith("resolve: ")
    assert record.counts == {} and record.timing == {} and record.burden == {}


@pytest.mark.parametrize(
    ("module", "name", "stage", "kept", "missing"),
    [
        (count_module, "count_flops", "count", ("architecture", "environment"), ("counts",)),
        (timing_module, "time_training", "time", ("counts",), ("timing", "energy")),
        (peaks_module, "peak_figures", "peak", ("counts",), ("timing", "burden")),
    ],
)
def test_a_failing_stage_is_named_and_earlier_stages_are_kept(
    mlp_config, monkeypatch, module, name, stage, kept, missing
):
    monkeypatch.setattr(module, name, _boom)
    record = measure(mlp_config, options=QUICK)
    assert record.status == "error"
    assert record.error == f"{stage}: RuntimeError: stage exploded"
    for section in kept:
        assert getattr(record, section), section
    for section in missing:
        assert not getattr(record, section), section


def test_a_failing_burden_keeps_counts_and_timing(mlp_config, monkeypatch):
    import harness.cost.burden as burden_module

    monkeypatch.setattr(burden_module, "compute_burden", _boom)
    record = measure(mlp_config, options=QUICK)
    assert record.error == "burden: RuntimeError: stage exploded"
    assert record.counts and record.timing["median_s"] > 0 and not record.burden


def test_after_an_out_of_memory_retry_the_counts_describe_the_batch_that_ran(
    mlp_config, monkeypatch
):
    real = timing_module.time_training

    def halved(*args, **kwargs):  # as if the first try ran out of memory at batch 4
        return dataclasses.replace(real(*args, **kwargs), batch_size=2)

    monkeypatch.setattr(timing_module, "time_training", halved)
    record = measure(mlp_config, options=QUICK)
    assert record.ok, record.error
    assert record.counts["batch_size"] == 2
    assert record.counts["forward_flops"] == 2 * 2 * FORWARD_MACS
    assert record.counts["backward_flops"] == _backward_flops(2)
    assert record.burden["batch_size"] == 2


class _SlowCounterMonitor:
    """A monitor whose counter needs long windows (like NVML's ~100 ms energy counter)."""

    min_window_s = 0.6

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def begin_window(self, name):
        self.name = name

    def end_window(self, name):
        return EnergyMeasurement.unavailable(name, "fake", "a stand-in monitor")


def test_an_energy_window_shorter_than_the_monitor_allows_is_lengthened(mlp_config, monkeypatch):
    import harness.energy as energy_package

    monkeypatch.setattr(
        energy_package, "make_energy_monitor", lambda *a, **k: _SlowCounterMonitor()
    )
    record = measure(mlp_config, options=MeasureOptions(matmul_peak=False))
    assert record.ok, record.error
    assert mlp_config.min_seconds == 0.0
    assert record.timing["window_s"] >= _SlowCounterMonitor.min_window_s
    assert record.energy["reason"] == "a stand-in monitor"


def test_a_count_that_may_fail_leaves_the_timing(mlp_config, monkeypatch):
    monkeypatch.setattr(count_module, "count_flops", _boom)
    options = dataclasses.replace(QUICK, count_optional=True)
    record = measure(mlp_config, options=options)
    assert record.ok
    assert record.counts == {"error": "RuntimeError: stage exploded"}
    assert record.timing["utilisation"]["achieved_flop_per_s"] is None


def test_raise_errors_lets_the_caller_see_the_exception(mlp_config, monkeypatch):
    monkeypatch.setattr(timing_module, "time_training", _boom)
    with pytest.raises(RuntimeError, match="stage exploded"):
        measure(mlp_config, options=dataclasses.replace(QUICK, raise_errors=True))


def test_a_real_worker_record_goes_into_the_report(mlp_config, tmp_path, monkeypatch):
    """The sweep's worker process runs the pipeline; its stored record renders in the report."""
    from harness.present.report import write_report
    from harness.sweep.loop import run_sweep
    from harness.sweep.store import ResultStore

    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path / "reports"))
    db = tmp_path / "results.sqlite"
    result = run_sweep([mlp_config], db, progress=False, echo=lambda _: None)
    assert result.summary()
    with ResultStore(db) as store:
        (record,) = store.load()
    assert record.ok, record.error
    assert record.counts["forward_macs_per_example"] == FORWARD_MACS
    paths = write_report(db=db, out_dir=tmp_path / "out")
    html = Path(paths.html).read_text()
    assert "mlp_net.py:mlp" in html
    assert Path(paths.markdown).exists()


def test_the_record_says_how_the_gpu_was_identified(mlp_config, monkeypatch):
    """The environment is captured before CUDA starts; the match is known once the peak's
    device description has run, and the record carries it."""
    real = peaks_module.peak_figures

    def identified(*args, **kwargs):
        return {**real(*args, **kwargs), "device_identity_basis": "uuid"}

    monkeypatch.setattr(peaks_module, "peak_figures", identified)
    record = measure(mlp_config, options=QUICK)
    assert record.ok, record.error
    assert record.environment["device_identity_basis"] == "uuid"
    assert record.timing["peak"]["device_identity_basis"] == "uuid"


def test_the_record_names_the_identified_gpu_beside_the_basis(mlp_config, monkeypatch):
    """The identified GPU's PCI bus id and UUID go where the basis goes: `environment` (captured
    before CUDA starts, so filled in from the peak's device description) and `timing.peak`."""
    real = peaks_module.peak_figures
    ids = {"device_pci_bus_id": "00000000:AF:00.0", "device_uuid": "GPU-dddd-3"}

    def identified(*args, **kwargs):
        return {**real(*args, **kwargs), "device_identity_basis": "pci", **ids}

    monkeypatch.setattr(peaks_module, "peak_figures", identified)
    record = measure(mlp_config, options=QUICK)
    assert record.ok, record.error
    for key, value in ids.items():
        assert record.environment[key] == value and record.timing["peak"][key] == value


def test_the_gpu_cools_down_before_the_idle_baseline_and_the_record_says_how_long(
    mlp_config, monkeypatch
):
    import harness.energy as energy_package
    import harness.energy.cooldown as cooldown_module

    events: list[str] = []

    class Monitor(_SlowCounterMonitor):
        min_window_s = 0.0

        def __enter__(self):  # the monitor's start(): the idle baseline
            events.append("idle baseline")
            return self

    def fake_cool_down(device, settings, **kwargs):
        events.append("cool-down")
        assert (settings.max_s, settings.target_c) == (30.0, 50.0)
        temps = iter([75, 70, 60, 49])
        return cooldown_module.cool_down(
            lambda: next(temps), settings, device="cuda:0", now=lambda: 0.0, sleep=lambda s: None
        )

    monkeypatch.setattr(energy_package, "make_energy_monitor", lambda *a, **k: Monitor())
    monkeypatch.setattr(cooldown_module, "cool_down_device", fake_cool_down)
    phases: list[str] = []
    options = MeasureOptions(matmul_peak=False, cooldown_max_s=30.0, cooldown_temp_c=50.0)
    record = measure(mlp_config, phases.append, options=options)
    assert record.ok, record.error
    assert events == ["cool-down", "idle baseline"]
    assert phases.index("cool-down") < phases.index("energy baseline") < phases.index("time")
    assert record.energy["cooldown"]["polls"] == 3
    assert record.energy["cooldown"]["end_temperature_c"] == 49


def test_measure_options_cool_down_defaults_are_the_cooldown_modules():
    from harness.energy.cooldown import DEFAULT_COOLDOWN_MAX_S, DEFAULT_COOLDOWN_TEMP_C

    o = MeasureOptions()
    assert (o.cooldown_max_s, o.cooldown_temp_c) == (
        DEFAULT_COOLDOWN_MAX_S,
        DEFAULT_COOLDOWN_TEMP_C,
    )


def test_a_world_size_above_one_is_never_measured_in_one_process_and_billed(mlp_config):
    """A data-parallel configuration runs under torchrun; one process cannot stand in for it
    (its burden and dollars would bill processors that never ran)."""
    config = dataclasses.replace(mlp_config, world_size=2)
    record = measure(config, options=QUICK)
    assert record.status == "error" and not record.burden
    assert "world_size 2 is measured under torchrun" in record.error
    assert "--nproc-per-node 2" in record.error and "\n" not in record.error


def test_the_burden_bills_the_processes_that_ran(mlp_config):
    record = measure(mlp_config, options=QUICK)
    assert record.ok and record.burden["processors"] == 1

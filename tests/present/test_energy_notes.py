"""The lines under `harness measure`'s figures: throttling, cool-down, the host's share."""

from __future__ import annotations

from harness.commands.measure import _print_notes
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.present.energy_notes import energy_note_lines

ENERGY = {
    "provenance": "nvml-counter",
    "throttled_at_end": ["cuda:0: sw_power_cap"],
    "cooldown": {"waited_s": 12.4, "end_temperature_c": 49.0, "target_c": 50.0, "note": ""},
}
BURDEN = {
    "energy_provenance": "nvml-counter",
    "host_energy_per_step_j": 6.25,
    "host_energy_share": 0.125,
    "host_energy_share_basis": "1 of 8 GPUs on this host (NVML device count)",
}


def test_printed_result_says_throttled_cooled_and_shared(capsys):
    record = Measurement.create(
        MeasurementConfig("resnet18", device="cuda"), status="ok", energy=ENERGY, burden=BURDEN
    )
    _print_notes(record)
    out = capsys.readouterr().out.splitlines()
    throttled = [line for line in out if line.startswith("throttled:")]
    assert len(throttled) == 1 and "cuda:0: sw_power_cap" in throttled[0]
    assert "cool-down:  waited 12 s to 49 C (target 50 C) before the idle baseline" in out
    assert (
        "host:       0.125 of the host's CPU/RAM energy charged "
        "(1 of 8 GPUs on this host (NVML device count))" in out
    )


def test_nothing_to_say_prints_nothing():
    assert energy_note_lines({"throttled_at_end": []}, {}) == []
    cpu = energy_note_lines({}, {"host_energy_share": 1.0, "host_energy_per_step_j": None})
    assert cpu == []
    warm = {"waited_s": 60.0, "end_temperature_c": 62.0, "target_c": 50.0, "note": "still 62 C"}
    (line,) = energy_note_lines({"cooldown": warm}, {})
    assert line.endswith("before the idle baseline; still 62 C")

"""The RAPL backend over a fake powercap tree: wrap-around, unreadable and vanishing files."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.energy import RaplSource, SampledEnergyMonitor, VirtualClock, make_energy_monitor
from harness.vocab import RAPL, UNAVAILABLE


def _powercap(tmp_path, energy_uj: int, max_uj: int = 262_143_328_850):
    d = tmp_path / "intel-rapl:0"
    d.mkdir(parents=True)
    (d / "name").write_text("package-0\n")
    (d / "energy_uj").write_text(f"{energy_uj}\n")
    (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
    (tmp_path / "intel-rapl:0:0").mkdir()  # a sub-domain (core): not a package, not counted
    return d


def test_rapl_counter_with_wrap_around(tmp_path):
    d = _powercap(tmp_path, energy_uj=9_900_000, max_uj=10_000_000)
    clock = VirtualClock()
    mon = SampledEnergyMonitor(RaplSource(tmp_path), clock=clock, idle_s=0)
    mon.start()
    mon.begin_window("w")
    (d / "energy_uj").write_text("400000\n")  # wrapped: 0.1 J + 0.4 J = 0.5 J
    clock.sleep(2.0)
    m = mon.end_window("w")
    assert m.provenance == RAPL
    assert m.energy_j_by_device == {"cpu:package-0": pytest.approx(0.5)}
    assert m.sampled_energy_j is None  # RAPL has no instant power


def test_unreadable_or_missing_rapl_is_unavailable(tmp_path, monkeypatch):
    mon = make_energy_monitor("cpu", backends=["rapl"], rapl_root=tmp_path)
    mon.begin_window("w")
    assert "no RAPL package domains" in mon.end_window("w").reason

    d = _powercap(tmp_path, energy_uj=1)
    real_read_text = Path.read_text

    def root_only(self, *a, **k):
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied")
        return real_read_text(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", root_only)
    mon = make_energy_monitor("cpu", backends=["rapl"], rapl_root=tmp_path)
    mon.begin_window("w")
    m = mon.end_window("w")
    assert m.provenance == UNAVAILABLE and "not readable" in m.reason and str(d) in m.reason


def test_rapl_file_vanishing_mid_run(tmp_path):
    d = _powercap(tmp_path, energy_uj=1_000_000)
    clock = VirtualClock()
    mon = SampledEnergyMonitor(RaplSource(tmp_path), clock=clock, idle_s=0)
    mon.start()
    mon.begin_window("w")
    (d / "energy_uj").unlink()
    clock.sleep(1.0)
    m = mon.end_window("w")
    assert m.provenance == UNAVAILABLE and "energy_uj" in m.reason

"""The host's CPU/RAM energy charged by the share of the host's GPUs a run uses (fake NVML)."""

from __future__ import annotations

import pytest

from harness.energy import PowerTrace, VirtualClock, make_energy_monitor
from harness.energy.host_share import host_share
from harness.errors import ConfigurationError

from .fakes import DATA, FakeCuda, FakeNvml


def _powercap(root):
    d = root / "intel-rapl:0"
    d.mkdir(parents=True)
    (d / "name").write_text("package-0\n")
    (d / "energy_uj").write_text("1000000\n")
    return root


@pytest.mark.parametrize(
    ("gpus", "share", "basis"),
    [(8, 0.125, "1 of 8 GPUs on this host (NVML device count)"), (1, 1.0, "1 of 1 GPUs")],
)
def test_gpu_run_records_its_share_of_the_host(tmp_path, monkeypatch, gpus, share, basis):
    monkeypatch.delenv("HARNESS_GPUS_IN_USE", raising=False)  # not a pool's worker
    clock = VirtualClock()
    fake = FakeNvml(PowerTrace.read_csv(DATA / "power_constant_300w.csv"), clock, count=gpus)
    mon = make_energy_monitor(
        "cuda:0", nvml=fake, cuda=FakeCuda(), idle_s=0.0, rapl_root=_powercap(tmp_path)
    )
    with mon:
        mon.begin_window("w")
        m = mon.end_window("w")
    assert m.host is not None and m.host.backend == "rapl"  # the whole host, unshared
    assert m.host_energy_share == pytest.approx(share)
    assert basis in m.host_energy_share_basis
    d = m.to_dict()
    assert d["host_energy_share"] == pytest.approx(share) and d["host"]["backend"] == "rapl"


def test_the_share_can_be_set_and_a_bad_one_is_refused(tmp_path):
    clock = VirtualClock()
    fake = FakeNvml(PowerTrace.read_csv(DATA / "power_constant_300w.csv"), clock, count=8)
    root = _powercap(tmp_path)
    mon = make_energy_monitor(
        "cuda:0", nvml=fake, cuda=FakeCuda(), idle_s=0.0, rapl_root=root, host_share=0.5
    )
    mon.begin_window("w")
    m = mon.end_window("w")
    assert m.host_energy_share == 0.5 and "--host-share" in m.host_energy_share_basis
    with pytest.raises(ConfigurationError, match="host energy share"):
        make_energy_monitor("cuda:0", nvml=fake, rapl_root=root, host_share=1.5)


def test_cpu_run_and_uncounted_gpus_charge_the_whole_host():
    assert host_share("cpu").fraction == 1.0
    assert host_share("cuda", host_gpus=None).fraction == 1.0
    assert host_share("cuda", gpus_used=2, host_gpus=8).fraction == 0.25


def _gpu_window_share(tmp_path, host_gpus: int):
    clock = VirtualClock()
    fake = FakeNvml(PowerTrace.read_csv(DATA / "power_constant_300w.csv"), clock, count=host_gpus)
    mon = make_energy_monitor(
        "cuda:0", nvml=fake, cuda=FakeCuda(), idle_s=0.0, rapl_root=_powercap(tmp_path)
    )
    with mon:
        mon.begin_window("w")
        m = mon.end_window("w")
    return m.host_energy_share, m.host_energy_share_basis


def test_a_pool_worker_is_charged_one_of_the_pools_gpus(tmp_path, monkeypatch):
    """4 workers of a pool run at once on a host of 8 GPUs: the host's energy is theirs."""
    monkeypatch.setenv("HARNESS_GPUS_IN_USE", "4")
    share, basis = _gpu_window_share(tmp_path, host_gpus=8)
    assert share == pytest.approx(1 / 4)
    assert basis.startswith("1 of 4 GPUs in use by this pool") and "8 on this host" in basis
    monkeypatch.delenv("HARNESS_GPUS_IN_USE")  # outside a pool: 1 of the host's GPUs
    share, basis = _gpu_window_share(tmp_path / "again", host_gpus=8)
    assert share == pytest.approx(1 / 8) and basis.startswith("1 of 8 GPUs on this host")


@pytest.mark.parametrize("bad", ["x", "0", "-2", "2.5"])
def test_an_unusable_pool_size_is_ignored_with_a_note(tmp_path, monkeypatch, bad):
    monkeypatch.setenv("HARNESS_GPUS_IN_USE", bad)
    share, basis = _gpu_window_share(tmp_path, host_gpus=8)
    assert share == pytest.approx(1 / 8) and basis.startswith("1 of 8 GPUs on this host")
    assert f"HARNESS_GPUS_IN_USE={bad!r} ignored" in basis

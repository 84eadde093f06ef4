"""The driver check: a fake `nvidia-smi` on PATH lists GPUs, fake torch facts say what torch
sees; where torch cannot use the listed GPUs the check (and `harness measure --default-suite`)
stops with one line naming the driver, torch's CUDA and the wheel index to install from."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import DeviceUnavailableError
from harness.hardware import driver_check
from harness.hardware.driver_check import TorchFacts, mismatch, read_smi, require_usable_gpus

HEADER = """\
+---------------------------------------------------------------------------------------+
| NVIDIA-SMI {driver}              Driver Version: {driver}      {cuda}    |
|-----------------------------------------+----------------------+----------------------+
"""

CU130_TORCH = TorchFacts(version="2.9.1+cu130", cuda="13.0", cuda_available=False)


def fake_smi(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    driver: str = "535.104.05",
    cuda: str | None = "12.2",
    gpus: tuple[str, ...] = ("NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB"),
) -> None:
    """An executable `nvidia-smi` first on PATH that answers the two queries the check makes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    rows = "".join(f"{g}, {driver}\\n" for g in gpus)
    header = HEADER.format(driver=driver, cuda=f"CUDA Version: {cuda}" if cuda else "")
    script = bin_dir / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        f"  --query-gpu=*) printf '{rows}' ;;\n"
        f"  *) cat <<'EOF'\n{header}EOF\n ;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_fake_smi_is_read_as_gpus_driver_and_cuda(tmp_path, monkeypatch):
    fake_smi(tmp_path, monkeypatch)
    smi = read_smi()
    assert smi is not None
    assert smi.gpus == ("NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB")
    assert smi.driver == "535.104.05"
    assert smi.cuda == (12, 2)


def test_cu130_torch_on_a_535_driver_names_both_versions_and_the_cu121_index(tmp_path, monkeypatch):
    fake_smi(tmp_path, monkeypatch)
    with pytest.raises(DeviceUnavailableError) as err:
        require_usable_gpus(torch_facts=CU130_TORCH)
    msg = str(err.value)
    assert "\n" not in msg
    assert "driver 535.104.05" in msg and "CUDA <= 12.2" in msg
    assert "built for CUDA 13.0" in msg
    assert "https://download.pytorch.org/whl/cu121" in msg  # 12.4 > 12.2 >= 12.1
    assert "CPU suite" in msg


def test_without_the_cuda_header_the_driver_floor_picks_the_wheel(tmp_path, monkeypatch):
    fake_smi(tmp_path, monkeypatch, driver="550.54.14", cuda=None)
    msg = mismatch(read_smi(), CU130_TORCH)
    assert msg is not None and "whl/cu124" in msg  # driver 550 is CUDA 12.4's floor


def test_cpu_only_torch_on_a_gpu_machine_is_refused(tmp_path, monkeypatch):
    fake_smi(tmp_path, monkeypatch, driver="570.86.15", cuda="12.8")
    cpu_build = TorchFacts(version="2.9.1+cpu", cuda=None, cuda_available=False)
    msg = mismatch(read_smi(), cpu_build)
    assert msg is not None and "CPU-only build" in msg and "whl/cu128" in msg


def test_hidden_gpus_name_cuda_visible_devices(tmp_path, monkeypatch):
    fake_smi(tmp_path, monkeypatch, driver="580.65.06", cuda="13.0")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    msg = mismatch(read_smi(), CU130_TORCH)
    assert msg is not None and "CUDA_VISIBLE_DEVICES" in msg and "--suite smoke" in msg


def test_matching_versions_that_still_fail_point_at_device_access(tmp_path, monkeypatch):
    fake_smi(tmp_path, monkeypatch, driver="580.65.06", cuda="13.0")
    msg = mismatch(read_smi(), CU130_TORCH)
    assert msg is not None and "/dev/nvidia" in msg and "download.pytorch.org" not in msg


def test_no_nvidia_smi_or_a_working_torch_passes(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi: a CPU machine
    assert read_smi() is None
    require_usable_gpus(torch_facts=CU130_TORCH)
    fake_smi(tmp_path, monkeypatch)
    require_usable_gpus(torch_facts=TorchFacts("2.9.1+cu121", "12.1", cuda_available=True))


def test_default_suite_stops_instead_of_measuring_the_cpu_suite(
    tmp_path, monkeypatch, capsys, reports_dir
):
    fake_smi(tmp_path, monkeypatch)
    monkeypatch.setattr(driver_check, "read_torch", lambda: CU130_TORCH)

    def no_sweep(*args, **kwargs):
        raise AssertionError("a suite ran on a machine whose GPUs torch cannot use")

    monkeypatch.setattr("harness.sweep.loop.run_sweep", no_sweep)
    code = main(["measure", "--default-suite", "--db", str(tmp_path / "r.sqlite")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "built for CUDA 13.0" in err and "whl/cu121" in err
    assert "default suite: smoke" not in err


def test_wheel_index_for_the_makefile_needs_no_torch(tmp_path, monkeypatch, capsys):
    fake_smi(tmp_path, monkeypatch, driver="560.35.03", cuda="12.6")
    assert driver_check.main(["--wheel-index"]) == 0
    assert capsys.readouterr().out.strip() == "https://download.pytorch.org/whl/cu126"


def test_no_wheel_index_where_the_newest_wheels_run_or_no_gpu(tmp_path, monkeypatch):
    fake_smi(tmp_path, monkeypatch, driver="580.65.06", cuda="13.0")
    assert driver_check.wheel_index_for_driver(read_smi()) is None
    assert driver_check.wheel_index_for_driver(None) is None

"""`harness env`: what a bug report needs, in one call (Zeus's show_env).

Software versions, the CPU and every visible GPU with its matched row of processors.csv and
datasheet peaks, and which energy sources this machine can read. Cheap: no benchmarks run.
"""

from __future__ import annotations

import argparse
import os
from importlib import metadata
from typing import Any

from harness.console import to_json

NAME = "env"
HELP = "print the environment a bug report needs: versions, CPU, GPUs, peaks, energy sources"

PACKAGES = (
    "torch",
    "torchvision",
    "transformers",
    "fvcore",
    "nvidia-ml-py",
    "codecarbon",
    "numpy",
    "pandas",
    "statsmodels",
    "tqdm",
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _energy_sources() -> dict[str, str]:
    """Which power readings exist here (what harness.energy can use), and why not."""
    out: dict[str, str] = {}
    from harness.hardware import nvml

    out["nvml"] = nvml.availability()
    rapl = "/sys/class/powercap/intel-rapl:0/energy_uj"
    if not os.path.exists("/sys/class/powercap"):
        out["rapl"] = "unavailable: no /sys/class/powercap (VM or non-Linux)"
    elif not os.path.exists(rapl):
        out["rapl"] = f"unavailable: {rapl} does not exist"
    elif not os.access(rapl, os.R_OK):
        out["rapl"] = f"unavailable: {rapl} is not readable (root only)"
    else:
        out["rapl"] = "available"
    out["codecarbon"] = (
        f"installed ({_version('codecarbon')})"
        if _version("codecarbon")
        else "not installed (pip install 'dl-cost-harness[codecarbon]')"
    )
    return out


def collect() -> dict[str, Any]:
    import platform

    import torch

    from harness import __version__
    from harness.catalog.processors import lookup_processor
    from harness.hardware.devices import available_memory_bytes, describe_device
    from harness.vocab import PRECISIONS_WITH_PEAKS

    env: dict[str, Any] = {
        "harness": __version__,
        "python": platform.python_version(),
        "os": platform.platform(),
        "packages": {p: _version(p) for p in PACKAGES},
        "torch_cuda_build": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
    }
    try:
        from harness.hardware.environment import git_state

        env["git_commit"], env["git_dirty"] = git_state()
    except ImportError:
        pass
    cpu = describe_device("cpu").to_dict()
    cpu["memory_available_bytes"] = available_memory_bytes()
    env["cpu"] = cpu
    gpus = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            g = describe_device(f"cuda:{i}")
            d = g.to_dict()
            spec = lookup_processor(g.name)
            d["datasheet_peaks_flop_per_s"] = (
                {p: spec.peak_flop_per_s(p) for p in PRECISIONS_WITH_PEAKS} if spec else None
            )
            d["datasheet_source"] = spec.source if spec else None
            d["tdp_watts"] = spec.tdp_watts if spec else None
            gpus.append(d)
    env["gpus"] = gpus
    env["energy_sources"] = _energy_sources()
    return env


def run(args: argparse.Namespace) -> int:
    from harness.console import fmt_si, format_pairs

    env = collect()
    if args.json:
        print(to_json(env))
        return 0

    def section(title: str, items: dict[str, Any]) -> None:
        print(title)
        if items:
            print(format_pairs(items, indent="  "))

    section(
        "harness",
        {
            "version": env["harness"],
            "git commit": env.get("git_commit"),
            "git dirty": env.get("git_dirty"),
            "python": env["python"],
            "os": env["os"],
        },
    )
    section("packages", env["packages"])
    cpu = env["cpu"]
    section(
        "cpu",
        {
            "model": cpu["cpu_model"],
            "cores (physical)": cpu["cpu_cores"],
            "threads (usable)": cpu["cpu_threads"],
            "torch threads": cpu["torch_threads"],
            "memory": fmt_si(cpu["memory_bytes"], "B"),
            "memory available": fmt_si(cpu["memory_available_bytes"], "B"),
        },
    )
    section(
        "cuda",
        {"torch built with CUDA": env["torch_cuda_build"], "CUDA available": env["cuda_available"]},
    )
    for g in env["gpus"]:
        items = {
            "name": g["name"],
            "memory": fmt_si(g["memory_bytes"], "B"),
            "compute capability": g["compute_capability"],
            "driver": g["driver_version"],
            "CUDA (driver / runtime)": f"{g['cuda_driver_version']} / {g['cuda_runtime_version']}",
            "cuDNN": g["cudnn_version"],
            "SM clock (now / max)": f"{g['sm_clock_mhz']} / {g['max_sm_clock_mhz']} MHz",
            "power limit": f"{g['power_limit_w']} W" if g["power_limit_w"] else None,
            "processors.csv row": g["processor_type"],
        }
        for p, v in (g["datasheet_peaks_flop_per_s"] or {}).items():
            items[f"datasheet peak {p}"] = fmt_si(v, "FLOP/s") if v else None
        items["datasheet source"] = g["datasheet_source"]
        for i, n in enumerate(g["notes"]):
            items[f"note {i + 1}"] = n
        section(f"gpu {g['device']}", items)
    section("energy sources", env["energy_sources"])
    return 0

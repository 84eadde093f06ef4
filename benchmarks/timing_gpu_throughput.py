"""Training throughput and MFU on a GPU: resnet50, vit_b_16 and BERT-base in bf16.

On a GPU, time the three networks in bf16 autocast (channels_last for
the convolutional network), count their training-step FLOPs, and report achieved FLOP/s and
MFU against the datasheet bf16 peak and the measured bf16 matmul peak. Results go to
`reports/gpu/<device>/timing_throughput.{json,md}` with the device name; resnet50 is compared
with NVIDIA's published single-GPU training throughput where the table below has the GPU.

    .venv/bin/python benchmarks/timing_gpu_throughput.py [--only resnet50] [--min-seconds 6]

Needs CUDA; without it, says so and exits 2.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

# Published single-GPU ResNet-50 v1.5 training throughput (img/s), by processors.csv row.
# Source: NVIDIA DeepLearningExamples, PyTorch/Classification/ConvNets/resnet50v1.5/README.md,
# "Training performance results" (pytorch-21.03 NGC container, 1 GPU rows). Their setting
# differs from ours: real ImageNet through DALI, fp16 AMP with loss scaling, NCHW.
PUBLISHED_RESNET50 = {
    "A100 80GB SXM4": {"mixed precision": 2470, "tf32": 938, "gpu": "DGX A100 (A100 80GB)"},
    "V100 SXM2": {"mixed precision": 1200, "fp32": 367, "gpu": "DGX-1 (V100 16GB)"},
}
PUBLISHED_SOURCE = (
    "NVIDIA DeepLearningExamples, PyTorch/Classification/ConvNets/resnet50v1.5/README.md, "
    "Training performance results, 1 GPU, pytorch-21.03 NGC container"
)

CONFIGS = (
    # name in the zoo, batch size, channels_last
    ("resnet50", 256, True),
    ("vit_b_16", 128, False),
    ("bert_base_squad", 32, False),
)


def _arch(name: str):
    from harness.arch import registry
    from harness.errors import HarnessError

    try:
        return registry.get(name)
    except HarnessError:
        if name in ("resnet50", "vit_b_16"):
            from timing_overhead import torchvision_arch

            return torchvision_arch(name)
        return None


def _count_train_flops(arch, name: str, batch_size: int, size: int):
    """(training-step FLOPs, counting method), or (None, None) when they cannot be counted."""
    try:
        from harness.counting.count import count_flops
    except ImportError:
        return None, None
    try:
        fc = count_flops(arch, batch_size=batch_size, size=size, train=True)
        return fc.train_step_flops, fc.method
    except Exception as exc:  # keep the timing; say why there is no MFU
        print(f"{name}: FLOP count failed: {type(exc).__name__}: {exc}")
        return None, None


def _time_one(name: str, batch: int, channels_last: bool, args, sheet, peak) -> dict | None:
    """One network: time it, count it, and return its row (None when it is not available)."""
    from harness.cost.utilisation import utilisation
    from harness.errors import HarnessError
    from harness.timing.request import TimingRequest
    from harness.timing.run import time_training

    arch = _arch(name)
    if arch is None:
        print(f"{name}: not registered and no stand-in; skipped")
        return None
    try:
        r = time_training(
            arch,
            TimingRequest(
                batch_size=batch,
                device=args.device,
                precision=args.precision,
                channels_last=channels_last,
                min_seconds=args.min_seconds,
            ),
            progress=True,
        )
    except HarnessError as exc:
        print(f"{name}: {exc}")
        return {"arch": name, "error": str(exc)}
    flops, method = _count_train_flops(arch, name, r.batch_size, r.size)
    u = utilisation(
        flops,
        r.median_s,
        datasheet_peak_flop_per_s=sheet,
        measured_peak_flop_per_s=peak.flop_per_s,
    )
    mfu = f"{u.mfu:.1%}" if u.mfu is not None else "-"
    mfu_m = f"{u.mfu_measured:.1%}" if u.mfu_measured is not None else "-"
    print(
        f"{r.arch:20s} batch {r.batch_size:4d}  {r.samples_per_s:9.1f} samples/s  "
        f"median {r.median_s * 1e3:8.2f} ms  MFU {mfu} (datasheet)  {mfu_m} (measured)"
    )
    return {
        "arch": r.arch,
        "batch_size": r.batch_size,
        "size": r.size,
        "precision": r.precision_used,
        "channels_last": r.channels_last,
        "median_step_s": r.median_s,
        "iqr_over_median": r.iqr_ratio,
        "noisy": r.noisy,
        "samples_per_s": r.samples_per_s,
        "peak_memory_bytes": r.peak_memory_bytes,
        "train_step_flops": flops,
        "count_method": method,
        "achieved_flop_per_s": u.achieved_flop_per_s,
        "mfu_datasheet": u.mfu,
        "mfu_measured_peak": u.mfu_measured,
        "notes": list(r.notes),
    }


def _published_comparison(spec, info, rows: list[dict]) -> dict | None:
    """resnet50 here against NVIDIA's published throughput for the same GPU, when listed."""
    published = PUBLISHED_RESNET50.get(spec.name) if spec else None
    ours = next(
        (x for x in rows if x.get("arch", "").startswith("resnet50") and "error" not in x), None
    )
    if published and ours:
        ref = published["mixed precision"]
        comparison = {
            "ours_samples_per_s": ours["samples_per_s"],
            "published_mixed_precision_img_per_s": ref,
            "ratio": ours["samples_per_s"] / ref,
            "published_gpu": published["gpu"],
            "source": PUBLISHED_SOURCE,
        }
        print(
            f"resnet50 vs published ({published['gpu']}, mixed precision): "
            f"{ours['samples_per_s']:.0f} vs {ref} img/s (x{comparison['ratio']:.2f}); "
            f"source: {PUBLISHED_SOURCE}"
        )
        return comparison
    if ours:
        print(
            f"resnet50: no published figure for {info.name} in this script's table "
            f"(has: {', '.join(PUBLISHED_RESNET50)})"
        )
    return None


def _markdown(info, spec, sheet, peak, rows, comparison, precision: str) -> str:
    lines = [
        f"# Training throughput on {info.name}",
        "",
        f"torch {torch.__version__}, CUDA {info.cuda_runtime_version}, driver "
        f"{info.driver_version}; {precision} autocast; synthetic batch on the device.",
        f"Datasheet {precision} peak: {sheet / 1e12 if sheet else float('nan'):.1f} TFLOP/s "
        f"({spec.source if spec else 'not in processors.csv'}).",
        f"Measured matmul peak: {peak.flop_per_s / 1e12:.1f} TFLOP/s ({peak.source}).",
        "",
        "| network | batch | samples/s | median step | MFU (datasheet) | MFU (measured peak) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for x in rows:
        if "error" in x:
            lines.append(f"| {x['arch']} | - | error: {x['error']} | | | |")
            continue
        mfu = f"{x['mfu_datasheet']:.1%}" if x["mfu_datasheet"] is not None else "-"
        mfu_m = f"{x['mfu_measured_peak']:.1%}" if x["mfu_measured_peak"] is not None else "-"
        lines.append(
            f"| {x['arch']} | {x['batch_size']} | {x['samples_per_s']:.1f} | "
            f"{x['median_step_s'] * 1e3:.2f} ms | {mfu} | {mfu_m} |"
        )
    if comparison:
        lines += [
            "",
            f"resnet50: {comparison['ours_samples_per_s']:.0f} img/s here vs "
            f"{comparison['published_mixed_precision_img_per_s']} img/s published for "
            f"{comparison['published_gpu']} ({PUBLISHED_SOURCE}; fp16 AMP, NCHW, DALI input).",
        ]
    return "\n".join(lines) + "\n"


def _write_reports(info, spec, sheet, peak, rows, comparison, precision: str) -> Path:
    from harness.paths import reports_dir

    slug = re.sub(r"[^A-Za-z0-9]+", "_", info.name).strip("_")
    out_dir = reports_dir() / "gpu" / slug
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": info.to_dict(),
        "datasheet_peak_flop_per_s": sheet,
        "datasheet_source": spec.source if spec else None,
        "matmul_peak": peak.to_dict(),
        "results": rows,
        "resnet50_vs_published": comparison,
    }
    (out_dir / "timing_throughput.json").write_text(json.dumps(record, indent=1, default=str))
    markdown = _markdown(info, spec, sheet, peak, rows, comparison, precision)
    (out_dir / "timing_throughput.md").write_text(markdown)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--only", action="append", help="run only these networks (repeatable)")
    p.add_argument("--min-seconds", type=float, default=None, help="default: the CUDA default")
    p.add_argument("--precision", default="bf16")
    args = p.parse_args(argv)

    from harness.catalog.processors import lookup_processor
    from harness.errors import HarnessError
    from harness.hardware.devices import describe_device
    from harness.hardware.peaks import datasheet_peak, measure_peak_for_precision

    try:
        info = describe_device(args.device)
    except HarnessError as exc:
        print(f"timing_gpu_throughput: {exc}", file=sys.stderr)
        return 2
    if info.kind != "cuda":
        print("timing_gpu_throughput: needs a CUDA device", file=sys.stderr)
        return 2

    spec = lookup_processor(info.name)
    sheet = datasheet_peak(info, args.precision)
    peak = measure_peak_for_precision(args.device, args.precision)
    print(
        f"{info.name} ({info.device}); datasheet {args.precision} peak "
        f"{sheet / 1e12 if sheet else float('nan'):.1f} TFLOP/s; measured matmul peak "
        f"{peak.flop_per_s / 1e12:.1f} TFLOP/s"
    )
    rows = []
    for name, batch, cl in CONFIGS:
        if args.only and name not in args.only:
            continue
        row = _time_one(name, batch, cl, args, sheet, peak)
        if row is not None:
            rows.append(row)
    comparison = _published_comparison(spec, info, rows)
    out_dir = _write_reports(info, spec, sheet, peak, rows, comparison, args.precision)
    print(f"wrote {out_dir / 'timing_throughput.json'} and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`harness time NAME`: time training steps and show achieved FLOP/s and utilisation."""

from __future__ import annotations

import argparse
import json
import sys
from types import SimpleNamespace
from typing import Any

from harness.commands._options import add_step_options, measurement_config

NAME = "time"
HELP = "time training steps of an architecture; show throughput, memory, achieved FLOP/s and MFU"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="architecture name or path/to/file.py:name")
    add_step_options(p)
    p.add_argument(
        "--no-cudnn-benchmark", action="store_true", help="leave cudnn.benchmark off (CUDA)"
    )
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    p.add_argument("--no-flops", action="store_true", help="skip counting FLOPs (no MFU)")
    p.add_argument("--no-peak", action="store_true", help="skip the matmul peak microbenchmark")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _flops(record: Any, skipped: bool) -> tuple[dict[str, Any] | None, str | None]:
    """The counted training-step FLOPs of the record, or why there are none."""
    if skipped:
        return None, None
    counts = record.counts or {}
    if counts.get("error"):
        return None, f"FLOP count failed: {counts['error']}"
    if counts.get("train_step_flops") is None:
        return None, "the FLOP count has no training step"
    return {
        "train_step_flops": float(counts["train_step_flops"]),
        "method": counts.get("method"),
        "uncounted": dict(counts.get("uncounted") or {}),
    }, None


def run(args: argparse.Namespace) -> int:
    from harness.console import fmt_num, fmt_si, print_table
    from harness.hardware.devices import describe_device
    from harness.pipeline.measure import MeasureOptions, measure

    config = measurement_config(args, args.name)  # a missing device fails before anything
    options = MeasureOptions(
        progress=not args.json,
        count=not args.no_flops,
        count_optional=True,
        energy=False,
        matmul_peak=not args.no_peak,
        cost=False,
        threads=args.threads,
        cudnn_benchmark=False if args.no_cudnn_benchmark else None,
        raise_errors=True,
    )
    record = measure(config, options=options)
    info = describe_device(config.device)
    section = dict(record.timing)
    util, peaks = section.pop("utilisation"), section.pop("peak")
    section["window"] = None
    flops, why = _flops(record, args.no_flops)
    notes = list(section["notes"]) + ([why] if why else [])
    sheet, measured = peaks["datasheet_flop_per_s"], peaks["measured_flop_per_s"]
    sheet_src = peaks["datasheet_source"]

    if args.json:
        out = {
            "device": info.to_dict(),
            "timing": section,
            "flops": flops,
            "utilisation": util,
            "datasheet_peak_source": sheet_src,
            "matmul_peak": (
                {"flop_per_s": measured, "source": peaks["measured_source"]} if measured else None
            ),
            "notes": notes,
        }
        print(json.dumps(out, indent=1, default=str))
        return 0

    def ms(x: float) -> str:
        return f"{x * 1e3:.3g} ms"

    r = SimpleNamespace(**section, iqr_ratio=section["iqr_s"] / section["median_s"])
    batch_text = str(r.batch_size)
    if r.batch_size != r.requested_batch_size:
        batch_text += f" (requested {r.requested_batch_size}; out of memory)"
    precision_text = r.precision_used
    if r.precision_used != r.precision:
        precision_text += f" (requested {r.precision})"
    if r.autocast_dtype:
        precision_text += f", autocast {r.autocast_dtype}" + (
            " + grad scaler" if r.grad_scaler else ""
        )
    rows: list[dict[str, Any]] = [
        {"figure": "architecture", "value": r.arch + (" (tiny)" if r.tiny else "")},
        {"figure": "device", "value": f"{r.device} - {r.device_name}"},
        {"figure": "batch size", "value": batch_text},
        {"figure": r.size_kind.replace("_", " "), "value": str(r.size)},
        {"figure": "precision", "value": precision_text},
        {"figure": "channels_last", "value": fmt_num(r.channels_last)},
        {"figure": "torch.compile", "value": r.compile_mode or "no"},
        {"figure": "cudnn.benchmark", "value": fmt_num(r.cudnn_benchmark)},
        {"figure": "threads", "value": str(r.threads)},
        {"figure": "warm-up steps", "value": str(r.warmup_steps)},
        {"figure": "timed steps", "value": f"{r.steps} in {r.window_s:.3g} s"},
        {"figure": "median step", "value": ms(r.median_s)},
        {"figure": "mean step", "value": ms(r.mean_s)},
        {
            "figure": "IQR",
            "value": f"{ms(r.iqr_s)} ({r.iqr_ratio:.1%} of median{', noisy' if r.noisy else ''})",
        },
        {"figure": "p90 step", "value": ms(r.p90_s)},
        {"figure": "samples/s", "value": f"{r.samples_per_s:.4g}"},
        {
            "figure": "peak memory",
            "value": f"{fmt_si(r.peak_memory_bytes, 'B')} ({r.peak_memory_source})",
        },
    ]
    if flops:
        rows.append(
            {
                "figure": "train-step FLOPs",
                "value": f"{fmt_si(flops['train_step_flops'])} (counted, {flops['method']})",
            }
        )
        rows.append({"figure": "achieved", "value": fmt_si(util["achieved_flop_per_s"], "FLOP/s")})
    rows.append(
        {
            "figure": f"datasheet peak {r.precision_used}",
            "value": fmt_si(sheet, "FLOP/s") if sheet else "-",
        }
    )
    if util["mfu"] is not None:
        rows.append({"figure": "MFU (datasheet)", "value": f"{util['mfu']:.1%}"})
    if measured:
        rows.append(
            {
                "figure": f"measured matmul peak {r.precision_used}",
                "value": fmt_si(measured, "FLOP/s"),
            }
        )
    if util["mfu_measured"] is not None:
        rows.append({"figure": "MFU (measured peak)", "value": f"{util['mfu_measured']:.1%}"})
    print_table(rows, columns=["figure", "value"])
    print(f"\ndatasheet: {sheet_src}")
    if measured:
        print(f"measured:  {peaks['measured_source']}")
    sys.stdout.flush()
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    return 0

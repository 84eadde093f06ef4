"""`harness time NAME`: time training steps and show achieved FLOP/s and utilisation."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from harness.commands._options import DEFAULT_BATCH, add_step_options, parse_shape

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


def _count_train_flops(arch: Any, result: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Counted training-step FLOPs from harness.counting, or why there are none."""
    try:
        from harness.counting.count import count_flops
    except ImportError:
        return None, "FLOP counting is not available (harness.counting not installed)"
    try:
        fc = count_flops(
            arch, batch_size=result.batch_size, size=result.size, tiny=result.tiny, train=True
        )
    except Exception as exc:  # a count failure must not hide a finished timing
        return None, f"FLOP count failed: {type(exc).__name__}: {exc}"
    if fc.train_step_flops is None:
        return None, "the FLOP count has no training step"
    return {
        "train_step_flops": float(fc.train_step_flops),
        "method": getattr(fc, "method", None),
        "uncounted": dict(getattr(fc, "uncounted", {}) or {}),
    }, None


def run(args: argparse.Namespace) -> int:
    from harness.arch.loader import is_file_reference
    from harness.arch.registry import resolve
    from harness.console import fmt_num, fmt_si, print_table
    from harness.cost.utilisation import utilisation
    from harness.hardware.devices import describe_device, resolve_device
    from harness.hardware.peaks import peak_figures
    from harness.timing.request import TimingRequest
    from harness.timing.run import time_training

    dev = resolve_device(args.device)  # a missing device fails before anything is built
    plain_seq = args.size if (is_file_reference(args.name) and args.vocab is not None) else None
    arch = resolve(
        args.name, input_shape=parse_shape(args.input_shape), seq_len=plain_seq, vocab=args.vocab
    )
    info = describe_device(dev)
    batch = args.batch if args.batch is not None else DEFAULT_BATCH[dev.type]
    result = time_training(
        arch,
        TimingRequest(
            batch_size=batch,
            size=args.size,
            tiny=args.tiny,
            device=dev,
            precision=args.precision,
            channels_last=args.channels_last,
            compile_mode=args.compile,
            cudnn_benchmark=False if args.no_cudnn_benchmark else None,
            warmup_steps=args.warmup,
            min_steps=args.steps,
            min_seconds=args.min_seconds,
            threads=args.threads,
            seed=args.seed,
        ),
        progress=not args.json,
    )
    notes = list(result.notes)

    flops, why = (
        (None, "skipped (--no-flops)") if args.no_flops else _count_train_flops(arch, result)
    )
    if why and not args.no_flops:
        notes.append(why)
    peaks = peak_figures(str(dev), result.precision_used, result.threads, measure=not args.no_peak)
    sheet, measured = peaks["datasheet_flop_per_s"], peaks["measured_flop_per_s"]
    sheet_src = peaks["datasheet_source"]
    util = utilisation(
        flops["train_step_flops"] if flops else None,
        result.median_s,
        datasheet_peak_flop_per_s=sheet,
        measured_peak_flop_per_s=measured,
    )

    if args.json:
        out = {
            "device": info.to_dict(),
            "timing": result.to_dict(),
            "flops": flops,
            "utilisation": util.to_dict(),
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

    r = result
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
        rows.append({"figure": "achieved", "value": fmt_si(util.achieved_flop_per_s, "FLOP/s")})
    rows.append(
        {
            "figure": f"datasheet peak {r.precision_used}",
            "value": fmt_si(sheet, "FLOP/s") if sheet else "-",
        }
    )
    if util.mfu is not None:
        rows.append({"figure": "MFU (datasheet)", "value": f"{util.mfu:.1%}"})
    if measured:
        rows.append(
            {
                "figure": f"measured matmul peak {r.precision_used}",
                "value": fmt_si(measured, "FLOP/s"),
            }
        )
    if util.mfu_measured is not None:
        rows.append({"figure": "MFU (measured peak)", "value": f"{util.mfu_measured:.1%}"})
    print_table(rows, columns=["figure", "value"])
    print(f"\ndatasheet: {sheet_src}")
    if measured:
        print(f"measured:  {peaks['measured_source']}")
    sys.stdout.flush()
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    return 0

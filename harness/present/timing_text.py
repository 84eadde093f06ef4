"""What `harness time` shows of a timing record: one JSON document, and figure / value rows.

The record comes from the measuring pipeline with counting optional and without energy or
burden; this module only reshapes it.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from harness.console import fmt_num, fmt_si
from harness.pipeline.record import Measurement


def counted_step(record: Any, skipped: bool) -> tuple[dict[str, Any] | None, str | None]:
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


def timing_document(
    record: Measurement, device: dict[str, Any], *, flops_skipped: bool
) -> dict[str, Any]:
    """The `harness time --json` document: device, timing, counted FLOPs, utilisation, peaks."""
    section = dict(record.timing)
    util, peaks = section.pop("utilisation"), section.pop("peak")
    section["window"] = None
    flops, why = counted_step(record, flops_skipped)
    measured = peaks["measured_flop_per_s"]
    withheld = [peaks.get("measured_note")] + [
        f"MFU {util.get(k)}" if util.get(k) else None for k in ("mfu_note", "mfu_measured_note")
    ]
    return {
        **_scaled_figures(section),
        "device": device,
        "timing": section,
        "flops": flops,
        "utilisation": util,
        "datasheet_peak_source": peaks["datasheet_source"],
        "matmul_peak": (
            {
                "flop_per_s": measured,
                "source": peaks["measured_source"],
                "reliable": peaks.get("measured_reliable"),
                "seconds": peaks.get("peak_measured_seconds"),
                "sizes": peaks.get("peak_measured_sizes"),
            }
            if measured
            else None
        ),
        "notes": list(section["notes"])
        + ([why] if why else [])
        + [n for n in withheld if n]
        + [n for n in (section.get("truncation_note"),) if n],
    }


# The figures of a run timed on K of L layers that the summary also shows at its top level.
SCALED_FIGURES = (
    "scaled_from_layers",
    "layer_scale",
    "scaled_median_s",
    "scaled_mean_s",
    "scaled_p90_s",
)


def _scaled_figures(section: dict[str, Any]) -> dict[str, Any]:
    """A truncated run's label and scaled step times (the pipeline's; MFU already uses them)."""
    return {k: section[k] for k in SCALED_FIGURES if section.get(k) is not None}


def _ms(x: float) -> str:
    return f"{x * 1e3:.3g} ms"


def _batch_and_precision(r: Any) -> tuple[str, str]:
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
    return batch_text, precision_text


def _step_rows(r: Any) -> list[dict[str, Any]]:
    batch_text, precision_text = _batch_and_precision(r)
    noisy = ", noisy" if r.noisy else ""
    return [
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
        {"figure": "median step", "value": _ms(r.median_s)},
        {"figure": "mean step", "value": _ms(r.mean_s)},
        {"figure": "IQR", "value": f"{_ms(r.iqr_s)} ({r.iqr_s / r.median_s:.1%} of median{noisy})"},
        {"figure": "p90 step", "value": _ms(r.p90_s)},
        {"figure": "samples/s", "value": f"{r.samples_per_s:.4g}"},
        {"figure": "peak memory", "value": _memory_text(r)},
    ]


def _memory_text(r: Any) -> str:
    """The timed steps' peak, then the whole run's (warm-up included) and the reserved peak."""
    steady = getattr(r, "peak_memory_steady_bytes", None)
    if steady is None:
        return f"{fmt_si(r.peak_memory_bytes, 'B')} ({r.peak_memory_source}, whole run)"
    text = f"{fmt_si(steady, 'B')} timed steps, {fmt_si(r.peak_memory_bytes, 'B')} whole run"
    reserved = getattr(r, "peak_reserved_bytes", None)
    if reserved is not None:
        text += f", {fmt_si(reserved, 'B')} reserved"
    return f"{text} ({r.peak_memory_source})"


def timing_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """figure / value rows of a `timing_document`, in the order a person reads them."""
    r = SimpleNamespace(**doc["timing"])
    flops, util = doc["flops"], doc["utilisation"]
    sheet = util["datasheet_peak_flop_per_s"]
    measured = (doc["matmul_peak"] or {}).get("flop_per_s")
    rows = _step_rows(r)
    if flops:
        counted = f"{fmt_si(flops['train_step_flops'])} (counted, {flops['method']})"
        rows.append({"figure": "train-step FLOPs", "value": counted})
        rows.append({"figure": "achieved", "value": fmt_si(util["achieved_flop_per_s"], "FLOP/s")})
    sheet_text = fmt_si(sheet, "FLOP/s") if sheet else "-"
    rows.append({"figure": f"datasheet peak {r.precision_used}", "value": sheet_text})
    if util["mfu"] is not None:
        rows.append({"figure": "MFU (datasheet)", "value": f"{util['mfu']:.1%}"})
    elif util.get("mfu_note"):
        rows.append({"figure": "MFU (datasheet)", "value": "withheld (> 1: see note)"})
    if measured:
        peak_text = fmt_si(measured, "FLOP/s")
        if (doc["matmul_peak"] or {}).get("reliable") is False:
            peak_text += " (unreliable: see note)"
        rows.append({"figure": f"measured matmul peak {r.precision_used}", "value": peak_text})
    if util["mfu_measured"] is not None:
        rows.append({"figure": "MFU (measured peak)", "value": f"{util['mfu_measured']:.1%}"})
    elif util.get("mfu_measured_note"):
        rows.append({"figure": "MFU (measured peak)", "value": "withheld (> 1: see note)"})
    for key, label in (("mfu_counted", "counted fwd+bwd"), ("mfu_palm", "6N + 12LHQT, PaLM")):
        if util.get(key) is not None:
            rows.append({"figure": f"MFU ({label})", "value": f"{util[key]:.1%}"})
    if doc.get("scaled_from_layers"):
        for row in rows:  # the timer's figures are of the K layers; the utilisation is not
            if row["figure"] in ("median step", "mean step", "p90 step", "samples/s"):
                row["figure"] += f" ({doc['scaled_from_layers']} layers, not scaled)"
        rows.append({"figure": "scaled_from_layers", "value": doc["scaled_from_layers"]})
        scaled = _ms(doc["scaled_median_s"])
        rows.append({"figure": "median step (scaled by layers)", "value": scaled})
    return rows

"""The headline figures of a measurement record, flat and labelled, for tables and reports.

Every energy-derived figure travels with its provenance; every projected figure with its basis.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.pipeline.record import Measurement
from harness.vocab import LBS_PER_KG

CLAIMED_CITATION = "claimed by the user (--metric)"
SIZE_UNITS = {"resolution": "px", "seq_len": "tokens"}


def metric_claimed(record: Measurement) -> bool:
    """Whether the record's quality figure was given by the user (`compare --top1 78`), not
    published: it is shown as claimed and is never a measured point of the regression."""
    a = record.architecture or {}
    return bool(a.get("reference_claimed")) or a.get("reference_citation") == CLAIMED_CITATION


def metric_text(record: Measurement) -> str | None:
    """The reference metric as shown beside others: '78.0 (claimed)' for a claimed one."""
    value = record.architecture_view.reference_value
    if value is None:
        return None
    return f"{float(value):.4g}" + (" (claimed)" if metric_claimed(record) else "")


def size_used(record: Measurement) -> int | None:
    """The resolution or sequence length the step ran at (the timed size, else the asked one,
    else the architecture's published one)."""
    used = (record.timing or {}).get("size") or record.config.get("size")
    return used or record.architecture_view.default_size


def off_published_size(record: Measurement) -> bool:
    """A tiny variant, or a size other than the one its published metric was measured at: its
    compute is not the published network's, so it is never placed on the paper's trend."""
    if record.config.get("tiny"):
        return True
    published, used = record.architecture_view.default_size, size_used(record)
    return published is not None and used is not None and int(used) != int(published)


def size_text(record: Measurement) -> str | None:
    """'96 px (published 224)', '224 px' or '384 tokens': the size every table carries."""
    used = size_used(record)
    if used is None:
        return None
    unit = SIZE_UNITS.get(str((record.architecture or {}).get("size_kind")), "")
    text = f"{used} {unit}".strip()
    published = record.architecture_view.default_size
    if published is not None and int(used) != int(published):
        text += f" (published {published})"
    return text


def noisy_text(record: Measurement) -> str | None:
    """'96% NOISY' or '4.1%': the timing spread (IQR as % of the median) and its flag."""
    t = record.timing_view
    if t.iqr_ratio is None:
        return None
    pct = 100 * t.iqr_ratio
    return (f"{pct:.0f}%" if pct >= 10 else f"{pct:.2g}%") + (" NOISY" if t.noisy else "")


def headline(record: Measurement) -> dict[str, Any]:
    """One flat dict of the figures a user compares across architectures (None where unknown)."""
    c, t, b, a = (
        record.counts_view,
        record.timing_view,
        record.burden_view,
        record.architecture_view,
    )
    cfg = record.config
    median = t.median_s
    return {
        "architecture": cfg.get("architecture"),
        "status": record.status,
        "benchmark": a.benchmark,
        "tiny": cfg.get("tiny"),
        "device": t.peak.device_name or cfg.get("device"),
        "precision": t.precision_used or cfg.get("precision"),
        "batch": t.batch_size or cfg.get("batch_size"),
        "params_m": c.params / 1e6 if c.params else None,
        "gmacs_per_pass": c.forward_gmacs_per_example,
        "train_step_gflops": c.train_step_flops / 1e9 if c.train_step_flops else None,
        "bwd_fwd": c.backward_forward_ratio,
        "step_ms": median * 1e3 if median else None,
        "iqr_pct": 100 * t.iqr_ratio if t.iqr_ratio is not None else None,
        "noisy": t.noisy,
        "spread_text": noisy_text(record),
        "size": size_used(record),
        "size_text": size_text(record),
        "off_size": off_published_size(record),
        "samples_per_s": t.samples_per_s,
        "achieved_tflop_per_s": _scale(t.utilisation.achieved_flop_per_s, 1e-12),
        "mfu_pct": _scale(t.utilisation.mfu, 100),
        "mfu_measured_pct": _scale(t.utilisation.mfu_measured, 100),
        "energy_per_example_j": b.energy_per_example_j,
        "energy_per_step_j": b.energy_per_step_j,
        "energy_provenance": b.energy_provenance or (record.energy or {}).get("provenance"),
        "burden_per_run_gflop": _scale(b.burden_per_run_flop, 1e-9),
        "run_hours": _scale(b.run_time_s, 1 / 3600),
        "co2_kg_per_run": b.co2_kg_per_run,
        "paper_co2_kg_per_run": _kg(record.burden, b.paper_co2_lbs_per_run),
        "co2_lbs_per_run": _scale(b.co2_kg_per_run, LBS_PER_KG),
        "paper_co2_lbs_per_run": b.paper_co2_lbs_per_run,
        "usd_per_run": b.usd_per_run,
        "price_unit": (record.burden or {}).get("price_unit") or "device-hour",
        "cost_routes_note": (record.burden or {}).get("cost_routes_note") or "",
        "paper_usd_low_per_run": b.paper_usd_low_per_run,
        "paper_usd_high_per_run": b.paper_usd_high_per_run,
        "reference_metric": a.reference_metric,
        "reference_value": a.reference_value,
        "reference_claimed": metric_claimed(record),
        "reference_text": metric_text(record),
        "error": record.error,
    }


def _kg(burden: Mapping[str, Any] | None, lbs: Any) -> float | None:
    """The paper's CO2e in kg: stored, or from the stored lbs (older records)."""
    kg = (burden or {}).get("paper_co2_kg_per_run")
    return kg if isinstance(kg, (int, float)) else _scale(lbs, 1 / LBS_PER_KG)


def utilisation_notes(record: Measurement) -> list[str]:
    """Why a utilisation is withheld, and whether the measured peak is reliable: one line each."""
    t = record.timing_view
    notes = [t.peak.measured_note] if t.peak.measured_note else []
    for note in (t.utilisation.mfu_note, t.utilisation.mfu_measured_note):
        if note:
            notes.append(f"MFU {note}")
    return notes


def _scale(x: Any, factor: float) -> float | None:
    return x * factor if isinstance(x, (int, float)) else None


# (key, label, unit) in the order a person reads a measurement.
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("params_m", "parameters", "M"),
    ("gmacs_per_pass", "per-pass compute", "GMACs / example"),
    ("train_step_gflops", "training-step compute", "GFLOP / batch (counted)"),
    ("bwd_fwd", "backward / forward", "ratio (counted)"),
    ("step_ms", "median step", "ms"),
    ("iqr_pct", "IQR", "% of median"),
    ("samples_per_s", "throughput", "examples / s"),
    ("achieved_tflop_per_s", "achieved", "TFLOP/s"),
    ("mfu_pct", "MFU (datasheet peak)", "%"),
    ("mfu_measured_pct", "MFU (measured matmul peak)", "%"),
    ("energy_per_step_j", "energy per step", "J"),
    ("energy_per_example_j", "energy per example", "J"),
    ("burden_per_run_gflop", "hardware burden, projected run", "GFLOP"),
    ("run_hours", "projected run time", "device-hours / processor"),
    ("co2_kg_per_run", "CO2e per run (energy route)", "kg"),
    ("paper_co2_kg_per_run", "CO2e per run (paper's conversion)", "kg"),
    ("co2_lbs_per_run", "CO2e per run (energy route)", "lbs"),
    ("paper_co2_lbs_per_run", "CO2e per run (paper's conversion)", "lbs"),
    ("usd_per_run", "cost per run (device-hours x hourly price)", "USD"),
    ("paper_usd_low_per_run", "cost per run (paper, low)", "USD"),
    ("paper_usd_high_per_run", "cost per run (paper, high)", "USD"),
)


NOISY_ADVICE = (
    "the step times are NOISY (IQR > 10% of the median): time, burden and cost are uncertain "
    "by about that much; rerun on an idle machine with a longer window (--min-seconds 30) or "
    "more steps (--steps 100)"
)


def trust_notes(record: Measurement) -> list[str]:
    """What a reader of one record's figures must not miss: the size it ran at when that is not
    the published metric's, a claimed metric, and a noisy timing with what to do about it."""
    notes = []
    if off_published_size(record) and not record.config.get("tiny"):
        notes.append(
            f"size:       {size_text(record)}: not the size of the published metric, so not a "
            "point on the paper's trend"
        )
    if metric_claimed(record):
        notes.append(f"metric:     {metric_text(record)}: given by the user, not published")
    if record.timing_view.noisy:
        notes.append(f"noisy:      timing spread {noisy_text(record)}; {NOISY_ADVICE}")
    return notes


def figure_rows(record: Measurement) -> list[dict[str, Any]]:
    """figure / value / unit rows for one record."""
    h = headline(record)
    rows = []
    for key, label, unit in FIGURES:
        unit_text = unit
        if key.startswith("energy") or key in ("co2_kg_per_run", "co2_lbs_per_run"):
            unit_text = f"{unit} [{h['energy_provenance'] or 'unavailable'}]"
        if key == "iqr_pct" and h["noisy"]:
            unit_text = f"{unit}: NOISY"
        if key == "usd_per_run":
            unit_text = f"USD (per {h['price_unit']})"
        if key in ("step_ms", "samples_per_s") and (record.timing or {}).get("scaled_from_layers"):
            unit_text = f"{unit} ({record.timing['scaled_from_layers']} layers, not scaled)"
        rows.append({"figure": label, "value": h[key], "unit": unit_text})
    util = (record.timing or {}).get("utilisation") or {}  # decoders: harness.cost.decoder_mfu
    for key, label in (("mfu_counted", "MFU (counted fwd + bwd)"), ("mfu_palm", "MFU (PaLM)")):
        if util.get(key) is not None:
            rows.append({"figure": label, "value": 100 * util[key], "unit": "% (datasheet peak)"})
    t = record.timing or {}
    if t.get("scaled_from_layers"):  # timed on K of L layers: harness.pipeline.variant
        unit = f"ms (x {t['layer_scale']:g}: {t['scaled_from_layers']} layers timed)"
        rows.append(
            {"figure": "median step, scaled", "value": t["scaled_median_s"] * 1e3, "unit": unit}
        )
        rows.append({"figure": "scaled_from_layers", "value": t["scaled_from_layers"], "unit": ""})
    return rows


def comparison_rows(records: list[Measurement]) -> list[dict[str, Any]]:
    """One row per figure, one column per architecture (what `harness compare` prints)."""
    heads = [headline(r) for r in records]
    names = [_column_name(h) for h in heads]
    rows = []
    spread = ("spread_text", "timing spread", "IQR % of median; NOISY > 10%")
    shown = (
        ("reference_text", "reference metric", "%"),
        ("size_text", "input size", "resolution / sequence"),
        *(spread if key == "iqr_pct" else (key, label, unit) for key, label, unit in FIGURES),
    )
    for key, label, unit in shown:
        row: dict[str, Any] = {"figure": label, "unit": unit}
        for n, h in zip(names, heads, strict=True):
            row[n] = h[key]
        rows.append(row)
    prov = {"figure": "energy provenance", "unit": ""}
    for n, h in zip(names, heads, strict=True):
        prov[n] = h["energy_provenance"]
    rows.append(prov)
    why = {"figure": "dollar routes", "unit": ""}
    for n, h in zip(names, heads, strict=True):  # the first clause; the reason is in the record
        why[n] = h["cost_routes_note"].split(":")[0].replace("the two dollar routes ", "") or None
    if any(why[n] for n in names):
        rows.append(why)
    return rows


def _column_name(h: Mapping[str, Any]) -> str:
    name = str(h["architecture"])
    if len(name) > 28 and ":" in name:
        name = name.rsplit("/", 1)[-1]
    return name + (" (tiny)" if h.get("tiny") else "")


def measured_point(record: Measurement) -> dict[str, Any] | None:
    """A record as a point for the paper's regression, or None when it cannot be one.

    Error comes from the architecture's reference metric (published, or claimed with
    `harness compare --metric`); per-pass compute is counted (2 x forward MACs per example);
    burden is the measured step projected to the published recipe; network operations (whole
    training compute, backward included) are the counted train-step FLOP per example x the
    recipe's epochs x examples per epoch. Tiny variants, runs at a size other than the published
    metric's, and failed rows are not points: their compute is not the published network's. Nor
    is a claimed metric (`compare --top1`): a user's claim is not a measurement.
    """
    a = record.architecture_view
    if not record.ok or a.reference_value is None or not a.benchmark:
        return None
    if off_published_size(record) or metric_claimed(record):
        return None
    macs = record.counts_view.forward_macs_per_example
    device = record.timing_view.peak.device_name or record.config.get("device")
    step = record.counts_view.train_step_flops
    batch = record.timing_view.batch_size or record.config.get("batch_size")
    epochs = record.architecture.get("recipe_epochs")
    per_epoch = record.architecture.get("recipe_examples_per_epoch")
    known = all(isinstance(v, (int, float)) and v > 0 for v in (step, batch, epochs, per_epoch))
    return {
        "benchmark": a.benchmark,
        "model": a.name or record.config.get("architecture"),
        "year": a.year,
        "error": 1.0 - float(a.reference_value) / 100.0,
        "per_pass_flops": 2.0 * float(macs) if macs else None,
        **burden_point(record),
        "network_ops_flops": step / batch * epochs * per_epoch if known else None,
        "citation": f"measured by the harness ({device}); "
        f"error from {a.reference_citation or 'the reference metric'}",
    }


def burden_point(record: Measurement) -> dict[str, Any]:
    """A record's burden as a point: at the fp32 peak by default (the convention of every
    published burden), the burden at the precision used beside it, and a flag where the
    measured step is not the published run's: a batch other than the recipe's, a CPU, a
    step in another precision than fp32."""
    t, b = record.timing_view, record.burden or {}
    precision = t.precision_used or record.config.get("precision") or "fp32"
    batch = t.batch_size or record.config.get("batch_size")
    recipe = b.get("recipe_batch_size")
    kind = t.peak.device_kind or ("cpu" if record.config.get("device") == "cpu" else None)
    at_precision = b.get("burden_per_run_flop")
    fp32 = b.get("burden_per_run_flop_fp32_peak")
    if fp32 is None and precision == "fp32":
        fp32 = at_precision
    reasons = []
    if recipe is None or batch != recipe:
        reasons.append(f"measured at batch {batch}, not the recipe's ({recipe or 'unknown'})")
    if kind == "cpu":
        reasons.append("measured on a CPU")
    if precision != "fp32":
        reasons.append(f"step timed in {precision}; burden at the fp32 peak by convention")
    return {
        "burden_flops": fp32,
        "burden_flops_at_precision": at_precision,
        "device": t.peak.device_name or record.config.get("device"),
        "device_kind": kind,
        "precision": precision,
        "batch": batch,
        "recipe_batch": recipe,
        "burden_flagged": bool(reasons),
        "burden_flag_reason": "; ".join(reasons),
    }


def _preference(point: dict[str, Any]) -> tuple[bool, int]:
    """The recipe batch first, then the largest batch."""
    batch = point.get("batch") or 0
    return (batch == point.get("recipe_batch"), batch)


def measured_points(records: list[Measurement]) -> list[dict[str, Any]]:
    """One point per architecture, device model and precision: the recipe batch where it was
    measured, else the largest batch (several batch sizes of one network are one point, not
    replicates)."""
    best: dict[tuple[Any, ...], dict[str, Any]] = {}
    for p in (measured_point(r) for r in records):
        if p is None:
            continue
        key = (p["benchmark"], p["model"], p.get("device"), p.get("precision"))
        if key not in best or _preference(p) > _preference(best[key]):
            best[key] = p
    return list(best.values())


def distributed_rows(d: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Figure / value rows of a data-parallel record's `timing.distributed` section."""
    rows = [
        {"figure": "world size", "value": d.get("world_size")},
        {"figure": "backend", "value": d.get("backend")},
        {"figure": "global batch", "value": d.get("global_batch")},
        {"figure": "slowest-rank median step (s)", "value": d.get("slowest_rank_median_s")},
        {"figure": "aggregate throughput (examples/s)", "value": d.get("aggregate_samples_per_s")},
        {"figure": "communication share of a step", "value": d.get("comm_share")},
        {
            "figure": "single-process throughput (examples/s)",
            "value": d.get("baseline_samples_per_s"),
        },
        {"figure": "scaling efficiency", "value": d.get("scaling_efficiency")},
        {"figure": "total energy of all devices (J)", "value": d.get("total_energy_j")},
    ]
    for r in d.get("per_rank") or []:
        rows.append(
            {
                "figure": f"rank {r['rank']} ({r['host']} {r['device']})",
                "value": f"{r['median_s'] * 1e3:.4g} ms/step, {r['samples_per_s']:.4g} ex/s, "
                f"energy {r.get('energy_j')} J [{r.get('energy_provenance')}]",
            }
        )
    return rows

"""A count as people read it: the summary table, a per-op or per-module breakdown, or JSON."""

from __future__ import annotations

from harness.console import fmt_si
from harness.console import to_json as strict_json
from harness.counting.record import FlopCount

SUMMARY_COLUMNS: tuple[str, ...] = ("item", "value")


def breakdown_columns(by: str) -> tuple[str, ...]:
    """Columns of `breakdown_rows(record, by, ...)`."""
    return (by, "GMACs", "share")


def to_json(r: FlopCount) -> str:
    """The full record as strict JSON (null where a figure is NaN or infinite)."""
    return strict_json(r.to_dict(), indent=2)


def summary_rows(r: FlopCount) -> list[dict[str, str]]:
    """Item/value rows: what was counted, how, and the totals of each phase."""
    rows = [
        {"item": "architecture", "value": r.architecture},
        {
            "item": "method",
            "value": r.method + (f" (after: {'; '.join(r.fallbacks)})" if r.fallbacks else ""),
        },
        {"item": f"batch x {r.size_kind}", "value": f"{r.batch_size} x {r.size}"},
        {"item": "params", "value": f"{r.params:,} ({r.trainable_params:,} trainable)"},
        {"item": "forward GMACs / example", "value": f"{r.forward_gmacs_per_example:.4f}"},
        {"item": "forward GFLOPs / example", "value": f"{2 * r.forward_gmacs_per_example:.4f}"},
    ]
    rows += _fvcore_rows(r) + _training_rows(r)
    other = {k: v for k, v in r.other_flops.items() if v}
    if other:
        rows.append(
            {
                "item": "other FLOPs (norms, activations, ...)",
                "value": ", ".join(f"{k} {fmt_si(v, 'FLOP')}" for k, v in other.items()),
            }
        )
    rows.append(
        {
            "item": "causal attention",
            "value": f"{r.causal} ({r.causal_attention_calls} causal calls seen)",
        }
    )
    rows += _detection_rows(r)
    unc = ", ".join(f"{k} x{v}" for k, v in r.uncounted.items()) or "none"
    rows.append({"item": "uncounted operators", "value": unc})
    rows += [{"item": "note", "value": n} for n in r.notes]
    return rows


def _fvcore_rows(r: FlopCount) -> list[dict[str, str]]:
    fv = r.fvcore
    if fv is not None:
        diff = fv.difference
        shown = f"{diff:+.2%}" if diff is not None else "n/a"
        value = (
            f"{fv.fvcore_macs_per_example / 1e9:.4f} vs ours {fv.ours_macs_per_example / 1e9:.4f} "
            f"({shown}; {' + '.join(fv.compared) or 'nothing comparable'}, grad enabled)"
        )
        rows = [{"item": "fvcore GMACs / example", "value": value}]
        unsupported = ", ".join(f"{k} x{v}" for k, v in fv.unsupported.items()) or "none"
        rows.append({"item": "fvcore unsupported operators", "value": unsupported})
        return rows
    if r.fvcore_note:
        return [{"item": "fvcore", "value": r.fvcore_note}]
    return []


FVCORE_COLUMNS: tuple[str, ...] = ("family", "ours / example", "fvcore / example", "compared")


def fvcore_family_rows(r: FlopCount) -> list[dict[str, str]]:
    """Our count and fvcore's side by side, per family (MACs for conv, matmul, attention; for
    norm and other each tool's own per-element FLOP convention, shown but not compared)."""
    fv = r.fvcore
    if fv is None:
        return []
    return [
        {
            "family": fam,
            "ours / example": fmt_si(fv.ours[fam], "MAC" if fam in _MAC_FAMILIES else "FLOP", 5),
            "fvcore / example": fmt_si(
                fv.fvcore[fam], "MAC" if fam in _MAC_FAMILIES else "FLOP", 5
            ),
            "compared": "yes" if fam in fv.compared else "no",
        }
        for fam in fv.ours
    ]


_MAC_FAMILIES = ("conv", "matmul", "attention")


def _training_rows(r: FlopCount) -> list[dict[str, str]]:
    if not r.train:
        return []
    backward = f"{fmt_si(r.backward_flops, 'FLOP')} (x{r.backward_forward_ratio:.3f} forward)"
    return [
        {"item": "training step: forward", "value": fmt_si(r.forward_flops, "FLOP")},
        {"item": "training step: backward", "value": backward},
        {
            "item": f"training step: optimizer ({r.optimizer})",
            "value": fmt_si(r.optimizer_flops, "FLOP"),
        },
        {"item": "training step: total", "value": fmt_si(r.train_step_flops, "FLOP")},
    ]


def _detection_rows(r: FlopCount) -> list[dict[str, str]]:
    d = r.detection
    if d is None:
        return []
    return [
        {
            "item": "detection: data-independent GMACs",
            "value": f"{d.data_independent_macs_per_example / 1e9:.4f}",
        },
        {
            "item": "detection: proposals processed",
            "value": f"{d.proposals_per_example:g} (budget {d.proposal_budget})",
        },
        {
            "item": "detection: GMACs at nominal budget",
            "value": f"{d.nominal_macs_per_example / 1e9:.4f}",
        },
    ]


def breakdown_rows(r: FlopCount, by: str, *, depth: int = 2, top: int = 15) -> list[dict]:
    """The `top` largest operators (`by="op"`) or modules down to `depth` (`by="module"`) of
    the counted forward pass, in GMACs and as a share of its MACs."""
    phase = "forward" if r.train else "inference"
    total = r.forward_flops / 2 if r.train else r.forward_macs
    if by == "op":
        data = r.by_op.get(phase, {})
    else:
        data = {
            (k or "(model)"): v
            for k, v in r.by_module.get(phase, {}).items()
            if (k.count(".") + 1 if k else 0) <= depth
        }
    items = sorted(data.items(), key=lambda kv: -kv[1])[:top]
    return [
        {by: k, "GMACs": v / 1e9, "share": f"{v / total:.1%}" if total else "-"} for k, v in items
    ]

"""What an audit looks up: the run's zoo count, its processor's peak, its grid, and a measured
step of its model from the results store. The arithmetic is in harness.analysis.audit."""

from __future__ import annotations

from pathlib import Path

from harness.analysis.audit import MeasuredStep, RunAudit, audit_run
from harness.arch.decoders import decoder_facts
from harness.catalog.grid import GridIntensity, grid_intensity
from harness.catalog.processors import lookup_processor
from harness.catalog.runs import PublishedRun, find_run, published_runs
from harness.errors import HarnessError


def counted_per_token(zoo_name: str | None) -> tuple[float | None, str | None]:
    """Counted training FLOPs per token at the model's published context (None: not in zoo)."""
    if not zoo_name:
        return None, "model not in the zoo: published and derived figures only"
    facts = decoder_facts(zoo_name)
    if facts is None:
        return None, f"{zoo_name} is not a decoder of the zoo: no per-token count"
    from harness.counting.count import count_flops
    from harness.counting.per_token import per_token_training

    count = count_flops(zoo_name, train=True, methods=("meta",))
    note = facts.counting_note or None
    return per_token_training(count, facts).counted, note


def peak_of(run: PublishedRun) -> tuple[float | None, str]:
    spec = lookup_processor(run.processor_type) if run.processor_type else None
    if spec is None:
        return None, f"no processors.csv row for {run.processor_type!r}"
    peak = spec.peak_flop_per_s(run.precision)
    return (
        peak,
        f"harness/data/reference/processors.csv '{spec.name}' ({run.precision}): {spec.source}",
    )


def grid_of(run: PublishedRun) -> GridIntensity | None:
    if not run.country:
        return None
    try:
        return grid_intensity(run.country)
    except HarnessError:
        return None  # codecarbon's table missing: our carbon figure stays empty


def measured_step(zoo_name: str | None, db: Path | None) -> MeasuredStep | None:
    """The newest ok measurement of the model in the results store, as a step."""
    from harness.sweep.store import ResultStore, default_db_path

    db = Path(db) if db is not None else default_db_path()
    if not zoo_name or not db.exists():
        return None

    try:
        with ResultStore(db, readonly=True) as store:
            records = store.load(status="ok", architecture=zoo_name)
    except HarnessError:
        return None
    for r in reversed(records):
        seconds = r.timing.get("median_s")
        size = r.config.get("size") or (decoder_facts(zoo_name).seq_len)
        if seconds:
            world = int(r.config.get("world_size") or 1)
            return MeasuredStep(
                device=str(r.config.get("device") or "device"),
                seconds=float(seconds),
                tokens_per_step=int(r.config.get("batch_size") or 1) * int(size) * world,
                devices=world,
            )
    return None


def audit(name: str, *, db: Path | None = None) -> RunAudit:
    """The audit of one published run, named by its key or by its zoo architecture."""
    return _audit(find_run(name), db)


def audit_all(*, db: Path | None = None) -> list[RunAudit]:
    """Every run of published_runs.csv, in file order."""
    return [_audit(run, db) for run in published_runs().values()]


def _audit(run: PublishedRun, db: Path | None) -> RunAudit:
    per_token, note = counted_per_token(run.zoo_name)
    peak, peak_source = peak_of(run)
    notes = [n for n in (note,) if n]
    if run.flagged:
        notes.append(f"some published figures are recalled, not confirmed: {run.notes}")
    return audit_run(
        run,
        per_token_flop=per_token,
        peak=peak,
        peak_source=peak_source,
        grid=grid_of(run),
        step=measured_step(run.zoo_name, db),
        notes=tuple(notes),
    )

"""`harness measure`: count + time + energy + burden, for one architecture or a suite."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from harness.commands._cluster import add_cluster_options, check_cluster_options
from harness.commands._energy_options import (
    add_energy_options,
    energy_options,
    refuse_energy_options,
)
from harness.commands._options import (
    add_cost_options,
    add_step_options,
    add_timeout_option,
    add_variant_options,
    measurement_config,
    positive_int,
    timeout_seconds,
)
from harness.commands._sweep_options import add_sweep_options, apply_journal, check_sweep_only

NAME = "measure"
HELP = "measure an architecture (FLOPs, step time, energy, burden, CO2, dollars) or a suite"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="architecture name or path/to/file.py:name")
    p.add_argument(
        "--suite", help="a suite: a name in harness/data/suites (smoke, paper, zoo) or a TOML file"
    )
    p.add_argument(
        "--default-suite",
        action="store_true",
        help="what `make measure` runs: the paper suite on CUDA, the smoke suite on CPU; then the report",
    )
    add_step_options(p)
    add_variant_options(p)
    add_cost_options(p)
    add_energy_options(p)
    p.add_argument("--db", default=None, help="results database (default reports/results.sqlite)")
    p.add_argument("--no-store", action="store_true", help="do not save the record")
    p.add_argument(
        "--force", action="store_true", help="measure again what the database already has"
    )
    p.add_argument("--no-report", action="store_true", help="with --default-suite: skip the report")
    p.add_argument("--json", action="store_true", help="print the whole record as JSON")
    p.add_argument(
        "--nproc-per-node",
        type=positive_int,
        default=None,
        help="data-parallel processes per node (torchrun)",
    )
    p.add_argument(
        "--nnodes", type=positive_int, default=1, help="nodes (torchrun; with --rdzv-endpoint)"
    )
    p.add_argument(
        "--rdzv-endpoint",
        default=None,
        help="HOST:PORT of the rendezvous; only with --nnodes N > 1 (one node: a local one)",
    )
    p.add_argument("--distributed", action="store_true", help="this process is a torchrun rank")
    p.add_argument(
        "--backend", choices=["nccl", "gloo"], default=None, help="torch.distributed backend"
    )
    p.add_argument("--run-dir", default=None, help=argparse.SUPPRESS)  # launcher <-> ranks
    p.add_argument(
        "--launch-timeout",
        type=float,
        default=None,
        help="seconds before a torchrun launch is killed (default: --timeout)",
    )
    add_timeout_option(p)
    p.add_argument(
        "--log-to",
        choices=["mlflow", "wandb"],
        default=None,
        help="also log each measurement as a run: mlflow (local ./mlruns) or wandb (offline)",
    )
    p.add_argument("--log-uri", default=None, help="with --log-to: MLflow tracking URI or W&B dir")
    add_sweep_options(p)
    add_cluster_options(p)


def _log_to(args: argparse.Namespace, records) -> None:
    """`--log-to`: each record as an MLflow or W&B run (a line on stderr says where)."""
    if getattr(args, "log_to", None):
        from harness.present.experiment_log import log_records

        print(log_records(args.log_to, records, args.log_uri), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from harness.commands._preflight import check_country, preflight
    from harness.errors import ConfigurationError
    from harness.watchdog import time_limit

    if args.distributed:
        refuse_energy_options(args, "a torchrun rank")
        _refuse_variant_options(args, "a torchrun rank")
        return _run_rank(args)
    _check_launch_options(args)
    check_sweep_only(args)
    check_cluster_options(args)
    apply_journal(args)
    check_country(args.country)
    if args.nproc_per_node is not None:
        refuse_energy_options(args, "a torchrun launch")
        _refuse_variant_options(args, "a torchrun launch")
        return _run_torchrun(args)
    if args.suite or args.default_suite:
        refuse_energy_options(args, "a suite")
        if args.name:
            raise ConfigurationError("give an architecture or --suite/--default-suite, not both")
        if args.timeout is not None:
            raise ConfigurationError(
                "--timeout limits one run; a suite's jobs take timeout_s from the suite file"
            )
        return _run_suite(args)
    if not args.name:
        raise ConfigurationError("name an architecture (see `harness list`), or give --suite FILE")
    seconds = timeout_seconds(args)
    config = measurement_config(args, args.name)
    what = f"harness measure: error: timed out after {seconds:g} s (--timeout): {config.label()}"
    with time_limit(seconds, what):
        preflight(config)
        _check_variants(config)
        return _run_one(args)


def _check_variants(config) -> None:
    """--activation-checkpointing / --truncate-layers where they cannot apply: one line, before
    anything is measured or stored."""
    if config.activation_checkpointing or config.truncate_layers is not None:
        from harness.pipeline.variant import check_variants

        check_variants(config.resolve_architecture(), config)


def _refuse_variant_options(args: argparse.Namespace, what: str) -> None:
    from harness.errors import ConfigurationError

    for flag, given in (
        ("--activation-checkpointing", args.activation_checkpointing),
        ("--truncate-layers", args.truncate_layers is not None),
    ):
        if given:
            raise ConfigurationError(f"{flag} is not available for {what}: measure one process")


def _check_launch_options(args: argparse.Namespace) -> None:
    """Options of a torchrun launch that do not fit together, refused before anything runs."""
    from harness.errors import ConfigurationError
    from harness.watchdog import check_timeout

    if args.nproc_per_node is None:
        given = [
            o
            for o, v in (
                ("--nnodes", args.nnodes != 1),
                ("--rdzv-endpoint", args.rdzv_endpoint),
                ("--launch-timeout", args.launch_timeout is not None),
            )
            if v
        ]
        if given:
            raise ConfigurationError(
                f"{', '.join(given)} configure a torchrun launch: add --nproc-per-node N"
            )
    if args.rdzv_endpoint and args.nnodes == 1:
        raise ConfigurationError(
            "--rdzv-endpoint is for several nodes (--nnodes N > 1); one node rendezvous "
            "locally: drop --rdzv-endpoint"
        )
    if args.launch_timeout is not None:
        check_timeout(args.launch_timeout, "--launch-timeout")


def _run_one(args: argparse.Namespace) -> int:
    from harness.pipeline.measure import MeasureOptions, measure

    config = measurement_config(args, args.name)
    options = MeasureOptions(progress=True, **energy_options(args, config.device_kind))
    store = _open_store(args)  # an unusable --db is refused before anything is measured
    try:
        print(f"measuring {config.label()} ...", file=sys.stderr)
        say = lambda p: print(f"  {p}", file=sys.stderr)  # noqa: E731
        record = measure(config, say, options=options)
        return _finish(record, args, store=store)
    finally:
        if store is not None:
            store.close()


def _run_torchrun(args: argparse.Namespace) -> int:
    from harness.commands._preflight import preflight
    from harness.errors import ConfigurationError
    from harness.launch.torchrun import TorchrunPlan, launch
    from harness.watchdog import GRACE_S, time_limit

    if not args.name:
        raise ConfigurationError("name an architecture to measure under torchrun")
    plan = TorchrunPlan(
        nproc_per_node=args.nproc_per_node,
        nnodes=args.nnodes,
        rdzv_endpoint=args.rdzv_endpoint,
        backend=args.backend,
        run_dir=args.run_dir,
        timeout_s=args.launch_timeout if args.launch_timeout is not None else timeout_seconds(args),
    )
    plan.check()
    config = measurement_config(args, args.name, world_size=plan.world_size)
    _check_store(args)  # refuse an unusable --db before launching
    # the launch kills torchrun at its timeout and records it; this limit is the backstop
    limit = plan.timeout_s + 6 * GRACE_S  # type: ignore[operator]
    what = f"harness measure: error: the torchrun launch of {config.label()} did not end"
    with time_limit(limit, what):
        preflight(config)
        record = launch(config, plan)
    if record is None:  # rank 0 runs on another node: its launcher writes the record
        print("this node's ranks finished; rank 0's node writes the record", file=sys.stderr)
        return 0
    return _finish(record, args, distributed=True)


def _run_rank(args: argparse.Namespace) -> int:
    from harness.launch.rank import RankFailed, rank_main, started_by_launcher

    config = None
    if args.name and not (args.run_dir and (Path(args.run_dir) / "config.json").exists()):
        world = int(os.environ.get("WORLD_SIZE", "1"))
        config = measurement_config(args, args.name, world_size=world)
    try:
        record = rank_main(config, backend=args.backend, run_dir=args.run_dir)
    except RankFailed:
        return 1
    if record is None or started_by_launcher():  # the launcher stores and prints the record
        return 0
    return _finish(record, args, distributed=True)


def _open_store(args: argparse.Namespace):
    """The results database, opened and checked (None with --no-store); a HarnessError (exit
    2) for one that cannot take the record, so that no measurement is spent on it."""
    from harness.sweep.store import ResultStore

    return None if args.no_store else ResultStore(args.db)


def _check_store(args: argparse.Namespace) -> None:
    store = _open_store(args)
    if store is not None:
        store.close()


def _save(record, args: argparse.Namespace, store) -> tuple[str | None, bool]:
    """Keep the record: in the database, else in a recovery file beside it (never dropped).
    Returns (a line saying where it went, whether the database took it)."""
    from harness.errors import HarnessError
    from harness.sweep.recovery import write_recovery
    from harness.sweep.store import ResultStore, default_db_path

    db_path = Path(args.db).expanduser() if args.db else default_db_path()
    try:
        if store is None:
            with ResultStore(args.db) as own:
                current = own.put(record)
        else:
            current = store.put(record)
    except HarnessError as exc:
        path = write_recovery(db_path, record)
        return f"NOT saved to the database ({exc}); the record is kept in {path}", False
    where = f"saved to {db_path} (key {record.key})"
    if not current:
        where += f"; the earlier ok row stays current (see `harness history {args.name}`)"
    return where, True


def _finish(record, args: argparse.Namespace, *, distributed: bool = False, store=None) -> int:
    """Store the record (unless --no-store) and print it: a table, or the record as JSON.
    A failed rerun never replaces an ok row; a store that fails leaves a recovery file."""
    from harness.console import print_table
    from harness.pipeline.summary import distributed_rows, figure_rows

    where, saved = _save(record, args, store) if not args.no_store else (None, True)
    _log_to(args, [record])
    if args.json:
        from harness.console import measurement_document, to_json

        print(to_json(measurement_document("measure", [record.to_dict()])))
    else:
        d = record.timing.get("distributed") or {}
        if d:
            print_table(distributed_rows(d), columns=["figure", "value"])
            print()
        if record.ok or not distributed:
            print_table(figure_rows(record), columns=["figure", "value", "unit"])
        if not distributed:
            _print_notes(record)
    if where is not None and (not distributed or not saved):
        print(where if saved else f"harness measure: error: {where}", file=sys.stderr)
    if not record.ok:
        print(f"harness measure: error: {record.error}", file=sys.stderr)
    return 0 if record.ok and saved else 1


def _print_notes(record) -> None:
    from harness.pipeline.summary import trust_notes

    b, e = record.burden, record.energy
    print()
    for line in trust_notes(record):
        print(line)
    if b.get("projection_basis"):
        print(f"projection: {b['projection_basis']}")
    if b.get("cost_routes_note"):
        print(f"costs:      {b['cost_routes_note']}")
    if b.get("peak_source"):
        print(f"peak:       {b['peak_source']}")
    prov = b.get("energy_provenance")
    if prov == "estimated-tdp":
        print("energy:     ESTIMATE (codecarbon's TDP model; no RAPL or NVML reading here)")
    elif prov == "unavailable":
        print(f"energy:     unavailable ({b.get('energy_reason') or e.get('reason')})")
    elif prov:
        print(f"energy:     measured ({prov})")
    if b.get("paper_basis"):
        print(f"paper:      {b['paper_basis']}")
    for n in b.get("notes") or []:
        print(f"note:       {n}")
    from harness.present.energy_notes import energy_note_lines

    for line in energy_note_lines(e or {}, b or {}):
        print(line)
    from harness.pipeline.summary import utilisation_notes

    for n in utilisation_notes(record):
        print(f"note:       {n}")


def _run_suite(args: argparse.Namespace) -> int:
    from harness.commands._suite_overrides import describe, suite_overrides
    from harness.commands._sweep_options import pool_slots, shard_jobs
    from harness.paths import reports_dir
    from harness.sweep.loop import run_sweep
    from harness.sweep.suite import NotedStore
    from harness.sweep.suites import default_suite, load_suite

    suite_name = args.suite
    if args.default_suite:
        from harness.hardware.driver_check import require_usable_gpus

        require_usable_gpus()  # GPUs torch cannot use: stop, never measure the CPU suite there
        suite_name, why = default_suite()
        print(f"default suite: {suite_name} ({why})", file=sys.stderr)
    suite = load_suite(suite_name)
    for note in suite.notes():
        print(note, file=sys.stderr)
    overrides = suite_overrides(args)
    if overrides:
        print(f"suite {suite.name}: the command line sets {describe(overrides)}", file=sys.stderr)
    noted = suite.noted_jobs(overrides=overrides, notify=lambda m: print(m, file=sys.stderr))
    notes = {job.config.key(): note for job, note in noted if note}
    jobs = shard_jobs(args, [job for job, _ in noted])
    if args.executor:
        from harness.commands._cluster import run_cluster

        return run_cluster(args, jobs, notes)
    slots = pool_slots(args)
    with NotedStore(args.db, notes) as store:
        result = run_sweep(
            jobs,
            store,
            force=args.force,
            log_dir=reports_dir() / "logs",
            claim_timeout_s=args.claim_timeout,
            slots=slots,
        )
    if args.default_suite and not args.no_report and not result.interrupted:
        from harness.present.report import write_report

        paths = write_report(db=args.db)
        print(f"report: {paths.html}")
    _log_to(args, result.records)
    print(result.summary())  # the last line: how many ran, failed and were skipped
    return _sweep_status(result)


def _sweep_status(result) -> int:
    """0 every row ok, 1 some rows failed (the count is printed), 130 interrupted."""
    if result.interrupted:
        return 130
    if result.failed:
        print(
            f"harness measure: error: {result.failed} of {len(result.records)} measurements "
            "failed (their rows say why: `harness report`)",
            file=sys.stderr,
        )
        return 1
    return 0

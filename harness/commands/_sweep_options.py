"""Options of `harness measure --suite` that spread a sweep: shards, claims, the journal."""

from __future__ import annotations

import argparse
import os


def add_sweep_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("spreading a suite (processes, GPUs, nodes)")
    g.add_argument(
        "--shard",
        metavar="I/N",
        default=None,
        help="measure shard I of N (from 0) of the suite, split by a hash of each "
        "configuration's key; merge the shards' databases with `harness merge`",
    )
    g.add_argument(
        "--claim-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="a configuration claimed by a sweep whose heartbeat is older than this is "
        "taken over (default $HARNESS_CLAIM_TIMEOUT_S, else 120)",
    )
    g.add_argument(
        "--gpus",
        default=None,
        metavar="LIST",
        help="a device pool: one configuration per GPU at a time (all, or 0-3,6), each "
        "worker pinned with CUDA_VISIBLE_DEVICES",
    )
    g.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="a CPU pool: N configurations at a time, the cores split between them",
    )
    g.add_argument(
        "--no-wal",
        action="store_true",
        help="rollback journal instead of WAL (automatic on NFS, Lustre, GPFS, BeeGFS)",
    )


def apply_journal(args: argparse.Namespace) -> None:
    """--no-wal reaches every database this process and its workers open."""
    from harness.sweep.journal import NO_WAL_ENV

    if getattr(args, "no_wal", False):
        os.environ[NO_WAL_ENV] = "1"


def check_sweep_only(args: argparse.Namespace) -> None:
    """These options spread a suite; with one architecture they would do nothing."""
    from harness.errors import ConfigurationError

    options = (
        ("--shard", args.shard),
        ("--claim-timeout", args.claim_timeout),
        ("--gpus", args.gpus),
        ("--workers", args.workers),
    )
    given = [o for o, v in options if v is not None]
    if args.gpus is not None and args.workers is not None:
        raise ConfigurationError("--gpus and --workers are two kinds of pool: give one")
    if given and not (args.suite or args.default_suite):
        raise ConfigurationError(f"{', '.join(given)} split a suite: add --suite NAME")


def shard_jobs(args: argparse.Namespace, jobs: list) -> list:
    """The jobs of --shard I/N (all of them without it), said on stderr."""
    import sys

    from harness.sweep.shard import parse_shard, select

    if not args.shard:
        return jobs
    shard = parse_shard(args.shard)
    mine = select(((j.config.key(), j) for j in jobs), shard)
    print(f"shard {shard}: {len(mine)} of {len(jobs)} configurations", file=sys.stderr)
    return mine


def pool_slots(args: argparse.Namespace) -> list | None:
    """The pool's slots for --gpus or --workers; None for one configuration at a time."""
    from harness.sweep.slots import cpu_slots, gpu_slots

    if args.gpus is not None:
        return gpu_slots(args.gpus)
    if args.workers is not None:
        return cpu_slots(args.workers)
    return None

"""`harness merge`: the shard databases of a sweep (nodes, array tasks) into one."""

from __future__ import annotations

import argparse

NAME = "merge"
HELP = "merge results databases (the shards of a sweep) into one, each record once"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="+", metavar="DB", help="results databases to merge")
    p.add_argument(
        "--into", required=True, metavar="PATH", help="the merged database (created if missing)"
    )


def run(args: argparse.Namespace) -> int:
    from harness.sweep.merge import merge

    print(merge(args.sources, args.into).summary())
    return 0

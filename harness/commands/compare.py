"""`harness compare NEW`: a new architecture beside the zoo, and beside the paper's trend line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from harness.commands._options import (
    add_cost_options,
    add_step_options,
    measurement_config,
    resolve_device_name,
)
from harness.commands.fit import add_published_from

NAME = "compare"
HELP = "measure a new architecture (name or file.py:factory) and compare it with the zoo and the paper's fit"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="architecture name or path/to/file.py:name")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--against", help="comma-separated zoo architectures to compare with")
    group.add_argument(
        "--benchmark",
        help="compare with this benchmark's paper-tagged architectures (imagenet, coco, ...)",
    )
    p.add_argument(
        "--max",
        type=int,
        default=None,
        help="at most this many zoo entries with --benchmark (default 4; 3 for tiny runs on a CPU)",
    )
    p.add_argument(
        "--metric",
        "--top1",
        "--box-ap",
        "--f1",
        "--bleu",
        dest="metric",
        type=float,
        default=None,
        help="claimed quality of NEW in percent (top-1, box AP, F1 or BLEU)",
    )
    add_step_options(p)
    add_cost_options(p)
    p.add_argument(
        "--full",
        action="store_true",
        help="on a CPU, measure the full-size networks (default there: their tiny variants)",
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help="start even when the estimated time is over 3 minutes (default: print it and stop)",
    )
    p.add_argument("--db", default=None, help="results database (default reports/results.sqlite)")
    p.add_argument("--force", action="store_true", help="measure the zoo entries again")
    add_published_from(p)
    p.add_argument("--json", action="store_true")


def config_maker(args: argparse.Namespace) -> tuple[Callable[[str], Any], list[str]]:
    """How each network's configuration is made, and why: on a CPU, without --full, --tiny or
    --size, every network that has a tiny variant runs it (minutes, not hours), and says so."""
    cpu = resolve_device_name(args.device).startswith("cpu")
    if not cpu or args.full or args.tiny or args.size is not None:
        return (lambda name: measurement_config(args, name)), []

    def make(name: str):
        arch = measurement_config(args, name).resolve_architecture()
        has_tiny = arch.tiny_builder is not arch.builder  # a plain function has none
        return measurement_config(args, name, tiny=has_tiny)

    return make, [
        "on a CPU the comparison runs the tiny variants: they check the pipeline in a minute or "
        "two but are not the published networks, so nothing is placed on the paper's trend; "
        "--full measures the published sizes (the estimate is printed first)"
    ]


def run(args: argparse.Namespace) -> int:
    from harness.analysis.comparison import compare
    from harness.analysis.run_estimate import ASK_ABOVE_S
    from harness.present.comparison_text import print_comparison

    make_config, first_notes = config_maker(args)
    for n in first_notes:
        print(f"note: {n}", file=sys.stderr)
    result = compare(
        args.name,
        against=[a.strip() for a in args.against.split(",") if a.strip()] if args.against else None,
        benchmark=args.benchmark,
        max_against=args.max if args.max is not None else (3 if first_notes else 4),
        claimed_metric=args.metric,
        make_config=make_config,
        db=args.db,
        force=args.force,
        echo=lambda m: print(m, file=sys.stderr),
        published_from=args.published_from,
        ask_above_s=None if args.yes else ASK_ABOVE_S,
        first_notes=first_notes,
    )
    if args.json:
        from harness.console import measurement_document, to_json

        doc = result.to_dict()
        records = [doc.pop("new"), *doc.pop("zoo")]  # the new architecture first, then the zoo
        print(to_json(measurement_document("compare", records, doc)))
    else:
        print_comparison(result)
    return 0 if result.new.ok else 1

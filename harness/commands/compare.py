"""`harness compare NEW`: a new architecture beside the zoo, and beside the paper's trend line."""

from __future__ import annotations

import argparse
import sys

from harness.commands._options import add_cost_options, add_step_options, measurement_config
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
        "--max", type=int, default=4, help="at most this many zoo entries with --benchmark"
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
    p.add_argument("--db", default=None, help="results database (default reports/results.sqlite)")
    p.add_argument("--force", action="store_true", help="measure the zoo entries again")
    add_published_from(p)
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from harness.analysis.comparison import compare
    from harness.present.comparison_text import print_comparison

    result = compare(
        args.name,
        against=[a.strip() for a in args.against.split(",") if a.strip()] if args.against else None,
        benchmark=args.benchmark,
        max_against=args.max,
        claimed_metric=args.metric,
        make_config=lambda name: measurement_config(args, name),
        db=args.db,
        force=args.force,
        echo=lambda m: print(m, file=sys.stderr),
        published_from=args.published_from,
    )
    if args.json:
        from harness.console import measurement_document, to_json

        doc = result.to_dict()
        records = [doc.pop("new"), *doc.pop("zoo")]  # the new architecture first, then the zoo
        print(to_json(measurement_document("compare", records, doc)))
    else:
        print_comparison(result)
    return 0 if result.new.ok else 1

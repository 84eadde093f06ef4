"""`harness info NAME`: one architecture's record, citations included."""

from __future__ import annotations

import argparse

from harness.console import format_pairs, to_json

NAME = "info"
HELP = "show one architecture's spec: recipe, reference metric, published figures, citations"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="architecture name or path/to/file.py:name")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from harness.arch.registry import resolve

    arch = resolve(args.name)
    info = arch.summary()
    if args.json:
        print(to_json(info))
        return 0
    print(format_pairs({k: v for k, v in info.items() if v not in (None, "", [])}))
    return 0

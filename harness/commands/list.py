"""`harness list`: the zoo as a table, without building anything."""

from __future__ import annotations

import argparse

from harness.console import to_json

NAME = "list"
HELP = "list registered architectures (nothing is built)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("pattern", nargs="?", help="glob on the name, e.g. 'vit*'")
    p.add_argument("--domain", choices=["vision", "nlp", "custom"])
    p.add_argument("--task", help="e.g. classification, detection, question-answering")
    p.add_argument("--benchmark", help="imagenet, coco, squad11, conll03, wmt14_en_fr, wmt14_en_de")
    p.add_argument("--tag", help="e.g. paper")
    p.add_argument("--json", action="store_true", help="print JSON records instead of a table")


def run(args: argparse.Namespace) -> int:
    from harness.arch.registry import list_architectures
    from harness.console import print_table
    from harness.errors import ConfigurationError
    from harness.vocab import BENCHMARKS

    if args.benchmark and args.benchmark not in BENCHMARKS:
        raise ConfigurationError(
            f"unknown benchmark {args.benchmark!r}; use one of {', '.join(BENCHMARKS)}"
        )
    archs = list_architectures(
        args.pattern, domain=args.domain, task=args.task, benchmark=args.benchmark, tag=args.tag
    )
    if args.json:
        print(to_json([a.summary() for a in archs]))
        return 0
    rows = [
        {
            "name": a.name,
            "task": a.task,
            "benchmark": a.benchmark or "-",
            "year": str(a.year) if a.year else "-",
            "params_M": round(a.published_params / 1e6, 2) if a.published_params else None,
            "GMACs": a.published_gmacs,
            "metric": f"{a.reference.name} {a.reference.value:g}" if a.reference else "-",
        }
        for a in archs
    ]
    print_table(rows)
    by_bench: dict[str, int] = {}
    for a in archs:
        by_bench[a.benchmark or "custom"] = by_bench.get(a.benchmark or "custom", 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in by_bench.items())
    print(
        f"\n{len(archs)} architectures ({summary}); params and GMACs as published (see `harness info NAME`)"
    )
    return 0

"""`harness report`: the HTML page, Markdown summary and figures of a results database."""

from __future__ import annotations

import argparse

from harness.commands.fit import add_published_from

NAME = "report"
HELP = "write the HTML report, a Markdown summary and the figures (PNG + SVG) of the results"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="PATH", help="results database (default reports/results.sqlite)")
    p.add_argument("--out", metavar="DIR", help="output folder (default reports/)")
    p.add_argument("--open", action="store_true", help="open the HTML page in a browser")
    p.add_argument(
        "--no-published",
        action="store_true",
        help="leave out the published points, the paper's fits and the extrapolation table",
    )
    add_published_from(p)
    p.add_argument(
        "--published-runs",
        action="store_true",
        help="add the published training runs (harness audit --all; counts each zoo model, "
        "about a minute)",
    )


def run(args: argparse.Namespace) -> int:
    from harness.present.report import write_report

    paths = write_report(
        args.db,
        args.out,
        include_published=not args.no_published,
        published_from=args.published_from,
        run_audits=_audits(args),
    )
    print(f"html:     {paths.html}")
    print(f"markdown: {paths.markdown}")
    for f in paths.figures:
        print(f"figure:   {f}")
    if args.open:
        import webbrowser

        webbrowser.open(paths.html.resolve().as_uri())
    return 0


def _audits(args: argparse.Namespace) -> list | None:
    if not args.published_runs:
        return None
    from harness.analysis.audit_inputs import audit_all

    return audit_all(db=args.db)

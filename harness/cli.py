"""The `harness` command: a thin layer over the library.

Subcommands live in `harness/commands/<name>.py`, found at start-up. Exit statuses:

* 0 done; 1 what was asked ran and failed (a measurement, some rows of a sweep);
* 2 unusable input: errors a user can act on (`HarnessError`) print as one line;
* 124 a `--timeout` ran out (see `harness.watchdog`); 130 Ctrl-C, without a traceback;
* a reader that closes the pipe early (`harness list | head -1`) is not a failure: the
  output stops quietly and the status is the command's own (0 when it succeeded). This
  follows the advice in Python's `signal` documentation ("Note on SIGPIPE") rather than the
  shell's 141, so `set -o pipefail` scripts do not fail on `| head`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from harness import __version__
from harness.errors import HarnessError

# Order in `harness --help`; commands not named here follow alphabetically.
_ORDER = (
    "list",
    "info",
    "flops",
    "time",
    "measure",
    "compare",
    "fit",
    "simulate",
    "report",
    "export",
    "history",
    "env",
)


class _Parser(argparse.ArgumentParser):
    """Usage mistakes as one line, like every other error (the usage is one --help away)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _command_modules():
    import harness.commands as pkg

    names = [m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
    names.sort(key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n))
    return [importlib.import_module(f"harness.commands.{n}") for n in names]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="harness",
        description="Measure what deep learning costs: FLOPs, step time, energy, hardware burden.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 1
    code = 0
    try:
        code = int(args._run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the try
        return code
    except BrokenPipeError:
        if not _stdout_closed():
            raise
        _silence_stdout()
        return code
    except HarnessError as exc:
        print(f"harness {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"harness {args.command}: interrupted", file=sys.stderr)
        return 130


def _stdout_closed() -> bool:
    """Whether standard output is a pipe whose reader has gone (poll reports an error)."""
    try:
        import select

        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & select.POLLERR for _, ev in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return True  # no poll here: a BrokenPipeError on the way out is the pipe's


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the flush at interpreter exit cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())

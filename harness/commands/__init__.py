"""One module per `harness` subcommand.

Each module defines `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int`. Modules
import heavy libraries inside `run`, so `harness --help` and `harness list` stay fast.
"""

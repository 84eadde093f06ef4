"""`harness time NAME`: time training steps and show achieved FLOP/s and utilisation."""

from __future__ import annotations

import argparse
import sys

from harness.commands._options import (
    add_step_options,
    add_timeout_option,
    add_variant_options,
    measurement_config,
    timeout_seconds,
)

NAME = "time"
HELP = "time training steps of an architecture; show throughput, memory, achieved FLOP/s and MFU"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="architecture name or path/to/file.py:name")
    add_step_options(p)
    p.add_argument(
        "--no-cudnn-benchmark", action="store_true", help="leave cudnn.benchmark off (CUDA)"
    )
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    p.add_argument("--no-flops", action="store_true", help="skip counting FLOPs (no MFU)")
    p.add_argument("--no-peak", action="store_true", help="skip the matmul peak microbenchmark")
    p.add_argument(
        "--peak-seconds",
        type=float,
        default=None,
        metavar="S",
        help="seconds each matmul size of the peak is sustained (default 1, or "
        "HARNESS_PEAK_SECONDS)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_variant_options(p)
    add_timeout_option(p)


def run(args: argparse.Namespace) -> int:
    from harness.commands._preflight import preflight
    from harness.hardware.matmul_peak import sustain_seconds
    from harness.watchdog import time_limit

    seconds = timeout_seconds(args)
    config = measurement_config(args, args.name)  # a missing device fails before anything
    if not args.no_peak:
        sustain_seconds(args.peak_seconds)  # a bad --peak-seconds fails before anything too
    what = f"harness time: error: timed out after {seconds:g} s (--timeout): {config.label()}"
    with time_limit(seconds, what):
        preflight(config)
        _check_variants(config)
        return _time(args, config)


def _check_variants(config) -> None:
    """--activation-checkpointing / --truncate-layers where they cannot apply: one line, before
    anything is timed."""
    if config.activation_checkpointing or config.truncate_layers is not None:
        from harness.pipeline.variant import check_variants

        check_variants(config.resolve_architecture(), config)


def _time(args: argparse.Namespace, config) -> int:
    from harness.console import print_table
    from harness.errors import HarnessError, one_line
    from harness.hardware.devices import describe_device
    from harness.pipeline.measure import MeasureOptions, measure
    from harness.present.timing_text import timing_document, timing_rows

    options = MeasureOptions(
        progress=not args.json,
        count=not args.no_flops,
        count_optional=True,
        energy=False,
        matmul_peak=not args.no_peak,
        peak_seconds=args.peak_seconds,
        cost=False,
        threads=args.threads,
        cudnn_benchmark=False if args.no_cudnn_benchmark else None,
        raise_errors=True,
    )
    try:  # no architecture given: the pipeline counts and times the configuration's variant
        record = measure(config, options=options)
    except HarnessError:
        raise  # bad input: one line, exit 2
    except Exception as exc:  # the network failed: one line, exit 1
        print(f"harness time: error: {one_line(f'{type(exc).__name__}: {exc}')}", file=sys.stderr)
        return 1
    device = describe_device(config.device).to_dict()
    doc = timing_document(record, device, flops_skipped=args.no_flops)
    if args.json:
        from harness.console import measurement_document, to_json

        print(to_json(measurement_document("time", [record.to_dict()], doc)))
        return 0
    print_table(timing_rows(doc), columns=["figure", "value"])
    print(f"\ndatasheet: {doc['datasheet_peak_source']}")
    if doc["matmul_peak"]:
        print(f"measured:  {doc['matmul_peak']['source']}")
    if doc["timing"].get("noisy"):
        from harness.pipeline.summary import NOISY_ADVICE

        print(f"noisy:     {NOISY_ADVICE}")
    sys.stdout.flush()
    for n in doc["notes"]:
        print(f"note: {n}", file=sys.stderr)
    return 0

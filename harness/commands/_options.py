"""Command-line options shared by the commands that measure (`time`, `measure`, `compare`)."""

from __future__ import annotations

import argparse

from harness.errors import ConfigurationError
from harness.vocab import COMPILE_MODES, PRECISIONS

DEFAULT_BATCH = {"cpu": 8, "cuda": 64}


def add_architecture_input(p: argparse.ArgumentParser) -> None:
    """How a `file.py:function` returning a plain nn.Module gets its example input."""
    p.add_argument(
        "--input-shape",
        default=None,
        help="N,C,H,W float input for a file.py:function returning a plain nn.Module",
    )
    p.add_argument("--vocab", type=int, default=None, help="token-id range for such a function")


def add_step_options(p: argparse.ArgumentParser) -> None:
    """What a timed training step is: device, batch, size, precision and budgets."""
    p.add_argument(
        "--device", default="auto", help="cpu, cuda or cuda:N (default: cuda if present)"
    )
    p.add_argument(
        "--batch", type=int, default=None, help="batch size (default: 8 on CPU, 64 on CUDA)"
    )
    p.add_argument(
        "--size",
        "--resolution",
        "--seq-len",
        dest="size",
        type=int,
        default=None,
        help="input resolution (vision) or sequence length (NLP); default: the architecture's",
    )
    p.add_argument("--tiny", action="store_true", help="the architecture's tiny variant")
    p.add_argument("--precision", choices=PRECISIONS, default=None, help="default fp32")
    p.add_argument(
        "--compile",
        nargs="?",
        const="default",
        default=None,
        choices=COMPILE_MODES,
        metavar="MODE",
        help="torch.compile the model (mode; default 'default')",
    )
    p.add_argument("--channels-last", action="store_true", help="channels_last memory format")
    p.add_argument("--steps", type=int, default=None, help="minimum timed steps")
    p.add_argument("--min-seconds", type=float, default=None, help="minimum timed seconds")
    p.add_argument("--warmup", type=int, default=None, help="minimum warm-up steps")
    p.add_argument("--seed", type=int, default=None, help="default 0")
    add_architecture_input(p)


def add_variant_options(p: argparse.ArgumentParser) -> None:
    """What is measured of a transformers model: checkpointed, or timed on its first K layers."""
    p.add_argument(
        "--activation-checkpointing",
        action="store_true",
        help="transformers models: recompute each block in the backward pass (counted too)",
    )
    p.add_argument(
        "--truncate-layers",
        metavar="K|auto",
        help="time the first K layers and scale the step by L/K (auto: as many as fit, CUDA); "
        "the full model is counted",
    )


def truncate_layers(text: str | None) -> int | str | None:
    """`--truncate-layers`: a number of layers, "auto", or None where not given."""
    if text is None or text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise ConfigurationError("--truncate-layers takes a number of layers or auto") from None


def add_cost_options(p: argparse.ArgumentParser) -> None:
    """Conversions to carbon and dollars."""
    p.add_argument(
        "--country", default="USA", help="ISO 3166 alpha-3 code for grid carbon intensity"
    )
    p.add_argument("--pue", type=float, default=1.0, help="data-centre power usage effectiveness")
    p.add_argument(
        "--price-per-gpu-hour",
        type=float,
        default=2.0,
        help="dollars per device-hour (default 2.0)",
    )
    from harness.cost.routes import DEFAULT_USD_PER_CPU_HOUR

    p.add_argument(
        "--cpu-hour-price",
        type=float,
        default=DEFAULT_USD_PER_CPU_HOUR,
        help="dollars per CPU-hour for a CPU measurement (default "
        f"{DEFAULT_USD_PER_CPU_HOUR:g}, AWS EC2 on-demand c7i.4xlarge; negative: not priced)",
    )


def add_timeout_option(p: argparse.ArgumentParser) -> None:
    """`--timeout`: a run that never returns ends with one line and exit status 124."""
    from harness.watchdog import DEFAULT_TIMEOUT_S

    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"stop a run that has not finished after this long, exit 124 "
        f"(default {DEFAULT_TIMEOUT_S:g})",
    )


def timeout_seconds(args: argparse.Namespace) -> float:
    """The checked --timeout (its default where not given)."""
    from harness.watchdog import DEFAULT_TIMEOUT_S, check_timeout

    given = getattr(args, "timeout", None)
    return check_timeout(DEFAULT_TIMEOUT_S if given is None else given)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a count of processes or nodes)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_shape(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        shape = tuple(int(s) for s in text.replace("x", ",").split(",") if s.strip())
    except ValueError:
        raise ConfigurationError(f"--input-shape {text!r}: use comma-separated integers") from None
    if not shape:
        raise ConfigurationError("--input-shape is empty: give N,C,H,W")
    return shape


def resolve_device_name(device: str) -> str:
    """'auto' -> 'cuda' where CUDA works, else 'cpu'; anything else is checked and normalised."""
    from harness.hardware.devices import resolve_device

    return str(resolve_device(device))


def measurement_config(args: argparse.Namespace, architecture: str, **overrides):
    """A MeasurementConfig from the shared options (defaults filled per device)."""
    from harness.pipeline.config import MeasurementConfig
    from harness.timing.request import DEFAULTS

    device = resolve_device_name(args.device)
    kind = device.split(":")[0]
    d = DEFAULTS[kind]
    fields = dict(
        architecture=architecture,
        batch_size=args.batch if args.batch is not None else DEFAULT_BATCH[kind],
        tiny=args.tiny,
        size=args.size,
        device=device,
        precision=args.precision or "fp32",
        channels_last=args.channels_last,
        compile_mode=args.compile,
        warmup_steps=int(d["warmup_steps"] if args.warmup is None else args.warmup),
        min_steps=int(d["min_steps"] if args.steps is None else args.steps),
        min_seconds=float(d["min_seconds"] if args.min_seconds is None else args.min_seconds),
        country=getattr(args, "country", None),
        pue=getattr(args, "pue", 1.0),
        price_per_gpu_hour=getattr(args, "price_per_gpu_hour", 2.0),
        price_per_cpu_hour=_cpu_price(args),
        seed=args.seed or 0,
        input_shape=parse_shape(args.input_shape),
        vocab=args.vocab,
        activation_checkpointing=bool(getattr(args, "activation_checkpointing", False)),
        truncate_layers=truncate_layers(getattr(args, "truncate_layers", None)),
    )
    fields.update(overrides)
    return MeasurementConfig(**fields)


def _cpu_price(args: argparse.Namespace) -> float | None:
    """`--cpu-hour-price`; a negative price means a CPU run is not priced by the hour."""
    from harness.cost.routes import DEFAULT_USD_PER_CPU_HOUR

    price = getattr(args, "cpu_hour_price", DEFAULT_USD_PER_CPU_HOUR)
    return None if price is not None and price < 0 else price

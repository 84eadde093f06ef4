"""`harness flops NAME`: count forward (and training-step) FLOPs of one architecture."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "flops"
HELP = "count MACs/FLOPs of an architecture on meta tensors (forward, backward, optimizer)"


def _shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(s) for s in text.replace("x", ",").split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a shape like 1,3,224,224") from None
    if not dims:
        raise argparse.ArgumentTypeError("an empty shape")
    return dims


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="a registered architecture, or path/to/file.py:factory")
    parser.add_argument("--batch", type=int, default=1, metavar="N", help="batch size (default 1)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--resolution", type=int, metavar="R", help="input resolution (vision)")
    size.add_argument("--seq-len", type=int, metavar="L", help="sequence length (NLP)")
    parser.add_argument(
        "--input-shape",
        type=_shape,
        metavar="N,C,H,W",
        help="for a file.py:factory returning a plain nn.Module: a float input of this shape",
    )
    parser.add_argument(
        "--vocab",
        type=int,
        metavar="V",
        help="for a file.py:factory with --seq-len: token ids are drawn from 0..V-1",
    )
    parser.add_argument("--train", action="store_true", help="also count one training step")
    parser.add_argument(
        "--by", choices=("module", "op"), help="add a per-module or per-operator breakdown"
    )
    parser.add_argument("--depth", type=int, default=2, help="module depth for --by module")
    parser.add_argument("--top", type=int, default=15, help="rows of the breakdown (default 15)")
    parser.add_argument("--tiny", action="store_true", help="the tiny variant (CPU tests)")
    parser.add_argument(
        "--causal-half",
        action="store_true",
        help="count causal attention as half of full attention (default: full)",
    )
    parser.add_argument(
        "--attention-recompute",
        action="store_true",
        help="add the QK^T recomputation of fused attention backward kernels",
    )
    parser.add_argument("--strict", action="store_true", help="fail on operators without a formula")
    parser.add_argument(
        "--fvcore", action="store_true", help="add fvcore's forward count (needs real weights)"
    )
    parser.add_argument(
        "--fvcore-max-params",
        type=float,
        default=2e8,
        metavar="N",
        help="skip fvcore above this many parameters (default 2e8)",
    )
    parser.add_argument(
        "--method",
        choices=("meta", "fake", "real"),
        help="force one counting method (default: meta, then fake, then real CPU tensors)",
    )
    parser.add_argument("--json", action="store_true", help="print the full record as JSON")


def run(args: argparse.Namespace) -> int:
    from harness.arch.loader import is_file_reference
    from harness.arch.registry import resolve
    from harness.console import fmt_si, print_table
    from harness.counting.count import count_flops
    from harness.errors import ConfigurationError

    if args.batch < 1:
        raise ConfigurationError(f"--batch must be at least 1, got {args.batch}")
    if (args.input_shape or args.vocab) and not is_file_reference(args.name):
        raise ConfigurationError("--input-shape and --vocab apply to a file.py:factory reference")
    arch = resolve(args.name, input_shape=args.input_shape, seq_len=args.seq_len, vocab=args.vocab)
    size = args.resolution if args.resolution is not None else args.seq_len
    if args.resolution is not None and arch.size_kind != "resolution":
        raise ConfigurationError(f"{arch.name} takes --seq-len, not --resolution")
    if args.seq_len is not None and arch.size_kind != "seq_len":
        raise ConfigurationError(f"{arch.name} takes --resolution, not --seq-len")
    if size is not None and size < 1:
        raise ConfigurationError(f"the {arch.size_kind} must be at least 1, got {size}")
    result = count_flops(
        arch,
        batch_size=args.batch,
        size=size,
        tiny=args.tiny,
        train=args.train,
        causal_half=args.causal_half,
        attention_recompute=args.attention_recompute,
        strict=args.strict,
        fvcore=args.fvcore,
        fvcore_max_params=int(args.fvcore_max_params),
        methods=(args.method,) if args.method else ("meta", "fake", "real"),
    )
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2, default=str)
        print()
        return 0

    r = result
    rows = [
        {"item": "architecture", "value": r.architecture},
        {
            "item": "method",
            "value": r.method + (f" (after: {'; '.join(r.fallbacks)})" if r.fallbacks else ""),
        },
        {"item": f"batch x {r.size_kind}", "value": f"{r.batch_size} x {r.size}"},
        {"item": "params", "value": f"{r.params:,} ({r.trainable_params:,} trainable)"},
        {"item": "forward GMACs / example", "value": f"{r.forward_gmacs_per_example:.4f}"},
        {"item": "forward GFLOPs / example", "value": f"{2 * r.forward_gmacs_per_example:.4f}"},
    ]
    if r.fvcore_forward_macs_per_example is not None:
        diff = (r.fvcore_forward_macs_per_example - r.forward_macs_per_example) / max(
            r.forward_macs_per_example, 1
        )
        rows.append(
            {
                "item": "fvcore GMACs / example",
                "value": f"{r.fvcore_forward_macs_per_example / 1e9:.4f} ({diff:+.2%})",
            }
        )
    elif r.fvcore_note:
        rows.append({"item": "fvcore", "value": r.fvcore_note})
    if r.train:
        rows += [
            {"item": "training step: forward", "value": fmt_si(r.forward_flops, "FLOP")},
            {
                "item": "training step: backward",
                "value": f"{fmt_si(r.backward_flops, 'FLOP')} (x{r.backward_forward_ratio:.3f} forward)",
            },
            {
                "item": f"training step: optimizer ({r.optimizer})",
                "value": fmt_si(r.optimizer_flops, "FLOP"),
            },
            {"item": "training step: total", "value": fmt_si(r.train_step_flops, "FLOP")},
        ]
    other = {k: v for k, v in r.other_flops.items() if v}
    if other:
        rows.append(
            {
                "item": "other FLOPs (norms, activations, ...)",
                "value": ", ".join(f"{k} {fmt_si(v, 'FLOP')}" for k, v in other.items()),
            }
        )
    rows.append(
        {
            "item": "causal attention",
            "value": f"{r.causal} ({r.causal_attention_calls} causal calls seen)",
        }
    )
    if r.detection is not None:
        d = r.detection
        rows += [
            {
                "item": "detection: data-independent GMACs",
                "value": f"{d.data_independent_macs_per_example / 1e9:.4f}",
            },
            {
                "item": "detection: proposals processed",
                "value": f"{d.proposals_per_example:g} (budget {d.proposal_budget})",
            },
            {
                "item": "detection: GMACs at nominal budget",
                "value": f"{d.nominal_macs_per_example / 1e9:.4f}",
            },
        ]
    unc = ", ".join(f"{k} x{v}" for k, v in r.uncounted.items()) or "none"
    rows.append({"item": "uncounted operators", "value": unc})
    for n in r.notes:
        rows.append({"item": "note", "value": n})
    print_table(rows, ["item", "value"])

    if args.by:
        phase = "forward" if r.train else "inference"
        total = r.forward_flops / 2 if r.train else r.forward_macs
        if args.by == "op":
            data = r.by_op.get(phase, {})
        else:
            data = {
                (k or "(model)"): v
                for k, v in r.by_module.get(phase, {}).items()
                if (k.count(".") + 1 if k else 0) <= args.depth
            }
        items = sorted(data.items(), key=lambda kv: -kv[1])[: args.top]
        print()
        print_table(
            [
                {args.by: k, "GMACs": v / 1e9, "share": f"{v / total:.1%}" if total else "-"}
                for k, v in items
            ],
            [args.by, "GMACs", "share"],
        )
    return 0

"""`harness flops NAME`: count forward (and training-step) FLOPs of one architecture."""

from __future__ import annotations

import argparse

from harness.commands._options import add_timeout_option, timeout_seconds

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
    parser.add_argument(
        "name", help="a registered architecture, path/to/file.py:factory, or hf:MODEL_ID"
    )
    parser.add_argument(
        "--batch",
        type=int,
        metavar="N",
        help="batch size (default: the N of --input-shape, else 1)",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--resolution", type=int, metavar="R", help="input resolution (vision)")
    size.add_argument("--seq-len", type=int, metavar="L", help="sequence length (NLP)")
    parser.add_argument(
        "--input-shape",
        type=_shape,
        metavar="N,C,H,W",
        help="for a file.py:factory returning a plain nn.Module: a float input of this shape "
        "(N is the batch; with --vocab, token ids; with --seq-len, a float sequence N,L,...)",
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
    parser.add_argument(
        "--depth",
        type=int,
        default=2,
        help="--by module: levels of the module tree below the model (default 2); deeper "
        "modules are rolled up into their parent",
    )
    parser.add_argument(
        "--top", type=int, default=15, help="rows of the --by op breakdown (default 15)"
    )
    parser.add_argument("--tiny", action="store_true", help="the tiny variant (CPU tests)")
    _add_convention_options(parser)
    parser.add_argument("--strict", action="store_true", help="fail on operators without a formula")
    parser.add_argument(
        "--fvcore",
        action="store_true",
        help="add fvcore's forward count by operator family, and its unsupported operators "
        "(needs real weights)",
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
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="count again instead of reading a stored count on real tensors (detectors)",
    )
    add_timeout_option(parser)


def _add_convention_options(parser: argparse.ArgumentParser) -> None:
    """How attention and recomputation are counted (conventions that differ between tools)."""
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
    parser.add_argument(
        "--activation-checkpointing",
        action="store_true",
        help="transformers models: count the backward with each block's forward recomputed",
    )


def run(args: argparse.Namespace) -> int:
    from harness.commands._preflight import check_example, check_vocab
    from harness.counting.request import FlopsRequest, resolve_request
    from harness.user_files import is_file_reference
    from harness.watchdog import time_limit

    seconds = timeout_seconds(args)
    check_vocab(args.vocab)
    if args.fvcore:
        from harness.counting.fvcore_check import require_fvcore

        require_fvcore()
    what = f"harness flops: error: timed out after {seconds:g} s (--timeout): counting {args.name}"
    with time_limit(seconds, what):
        request = _request(args, FlopsRequest)
        arch = resolve_request(request)  # the options against the architecture, then
        size = request.size  # a batch on the meta device: too long a sequence fails here
        check_example(arch, size, tiny=args.tiny, file_reference=is_file_reference(args.name))
        return _count(args, request, arch)


def _per_token(name: str, result):
    """A decoder language model's per-token training FLOPs beside 6N and 6N + 12LHQT."""
    from harness.arch.decoders import decoder_facts
    from harness.counting.per_token import per_token_training

    facts = decoder_facts(name)
    return per_token_training(result, facts) if facts is not None and result.train else None


def _json(result, tree, per_token) -> str:
    """The count as strict JSON, with the module tree and a decoder's per-token section."""
    from harness.console import to_json as strict_json

    d = result.to_dict()
    if tree is not None:
        d["module_tree"] = tree.to_dict()
    if per_token is not None:
        d["per_token_training"] = per_token.to_dict()
    return strict_json(d, indent=2)


def _request(args: argparse.Namespace, request_class: type) -> object:
    from harness.arch.decoders import decoder_facts

    if not args.train and decoder_facts(args.name) is not None:
        args.train = True  # a decoder's per-token section is a training count
    return request_class(
        name=args.name,
        batch=args.batch,
        resolution=args.resolution,
        seq_len=args.seq_len,
        input_shape=args.input_shape,
        vocab=args.vocab,
        train=args.train,
        tiny=args.tiny,
        causal_half=args.causal_half,
        attention_recompute=args.attention_recompute,
        strict=args.strict,
        fvcore=args.fvcore,
        fvcore_max_params=int(args.fvcore_max_params),
        method=args.method,
        cache=not args.no_cache,
        activation_checkpointing=args.activation_checkpointing,
    )


def _count(args: argparse.Namespace, request, arch) -> int:
    from harness.console import print_table
    from harness.counting.module_tree import TREE_COLUMNS, record_module_tree, tree_rows
    from harness.counting.request import count_request
    from harness.counting.summary import (
        FVCORE_COLUMNS,
        SUMMARY_COLUMNS,
        breakdown_columns,
        breakdown_rows,
        fvcore_family_rows,
        summary_rows,
    )

    result = count_request(request)
    tree = record_module_tree(arch, result, depth=args.depth) if args.by == "module" else None
    per_token = _per_token(args.name, result)
    if args.json:
        print(_json(result, tree, per_token))
        return 0
    print_table(summary_rows(result), list(SUMMARY_COLUMNS))
    if per_token is not None:
        from harness.counting.per_token import PER_TOKEN_COLUMNS, per_token_rows

        print()
        print_table(per_token_rows(per_token), list(PER_TOKEN_COLUMNS))
    if result.fvcore is not None:
        print()
        print_table(fvcore_family_rows(result), list(FVCORE_COLUMNS))
    if tree is not None:
        print()
        print_table(tree_rows(tree), list(TREE_COLUMNS))
    elif args.by:
        print()
        rows = breakdown_rows(result, args.by, depth=args.depth, top=args.top)
        print_table(rows, list(breakdown_columns(args.by)))
    return 0

"""Formulas users add for their own operators (custom ops, or overrides of built-in ones).

    from harness.counting import register_formula

    @register_formula("mylib::fused_gemm")
    def fused_gemm(args, kwargs, out):
        a, b = args[0], args[1]
        return a.shape[0] * a.shape[1] * b.shape[1]  # MACs

The function sees one call as it reached the dispatcher (arguments, possibly meta or fake
tensors, and the result) and returns MACs (an int), `(macs, other_flops)`, or a `Cost`. It
takes precedence over the built-in table. The same idea as fvcore's `set_op_handle` and
`FlopCounterMode(custom_mapping=...)` in torch.utils.flop_counter.

Only operators that reach the dispatcher can be costed: `torch.library` custom ops and ATen
ops, not Python functions or ops that decompose before dispatch (CompositeImplicitAutograd).

Packages register formulas for every process that counts (sweep workers included) through the
`harness.formulas` entry-point group: an entry point names a module, imported (its decorators
register), or a function, called with no arguments.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import torch

from harness.counting.formulas.common import Cost, Formula
from harness.errors import ConfigurationError

ENTRY_POINT_GROUP = "harness.formulas"
UserFormula = Callable[[tuple, dict, Any], Any]

# OpOverload or OpOverloadPacket -> formula; read by `rules.rule_for` before its own tables
USER_FORMULAS: dict[Any, Formula] = {}
_PLUGINS_LOADED = False


def register_formula(op: Any) -> Callable[[UserFormula], UserFormula]:
    """Decorator: count `op` (an OpOverload, an OpOverloadPacket, or a name such as
    "mylib::op", "mylib::op.overload" or "aten.mm") with the decorated function."""
    target = resolve_op(op)

    def decorate(fn: UserFormula) -> UserFormula:
        if not callable(fn):
            raise ConfigurationError(f"register_formula({op!r}): {fn!r} is not a function")
        USER_FORMULAS[target] = _as_formula(fn, str(target))
        return fn

    return decorate


def unregister_formula(op: Any) -> None:
    """Remove a user formula (tests, or to fall back to the built-in one)."""
    USER_FORMULAS.pop(resolve_op(op), None)


def resolve_op(op: Any) -> Any:
    """The OpOverload or OpOverloadPacket that `op` names; a one-line error if there is none."""
    if isinstance(op, (torch._ops.OpOverload, torch._ops.OpOverloadPacket)):
        return op
    if not isinstance(op, str) or not op.strip():
        raise ConfigurationError(
            f"register_formula: {op!r} is not an operator; pass torch.ops.NS.NAME or 'NS::NAME'"
        )
    text = op.strip().replace("::", ".")
    parts = text.split(".")
    if len(parts) not in (2, 3):
        raise ConfigurationError(
            f"register_formula: {op!r} is not an operator name like 'mylib::op' or 'aten.mm'"
        )
    try:
        found: Any = getattr(getattr(torch.ops, parts[0]), parts[1])
        if len(parts) == 3:
            found = getattr(found, parts[2])
    except (AttributeError, RuntimeError):
        raise ConfigurationError(
            f"register_formula: no operator {op!r} is registered; define it (torch.library) or "
            "import the library that does before registering its formula"
        ) from None
    return found


def _as_formula(fn: UserFormula, name: str) -> Formula:
    def formula(args, kwargs, out, opts) -> Cost:
        r = fn(tuple(args), dict(kwargs), out)
        if isinstance(r, Cost):
            return r
        if isinstance(r, tuple) and len(r) == 2:
            return Cost(int(r[0]), int(r[1]))
        if isinstance(r, int) and not isinstance(r, bool):
            return Cost(r)
        raise TypeError(f"the formula for {name} returned {r!r}: return MACs, (macs, other)")

    return formula


def load_formula_plugins() -> None:
    """Load the `harness.formulas` entry points (once per process)."""
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            if callable(obj):
                obj()
        except Exception as exc:  # a broken plug-in must not stop counting
            print(f"warning: formula entry point {ep.name!r} failed: {exc}", file=sys.stderr)

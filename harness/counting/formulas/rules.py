"""How one ATen op is costed: its formula table, or its tags, or uncounted."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

import torch

from harness.counting.formulas.attention import ATTENTION_FORMULAS
from harness.counting.formulas.common import Formula, words
from harness.counting.formulas.conv import CONV_FORMULAS
from harness.counting.formulas.layers import LAYER_FORMULAS, TORCHVISION_FORMULAS
from harness.counting.formulas.matmul import MATMUL_FORMULAS
from harness.counting.formulas.pointwise import (
    FUSED_OPTIMIZER_FORMULAS,
    foreach_formula,
    per_input,
    pointwise_formula,
)
from harness.counting.formulas.products import PRODUCT_FORMULAS
from harness.counting.formulas.rnn import RNN_CELL_FORMULAS, RNN_FORMULAS
from harness.counting.formulas.spectral import CDIST_FORMULAS, FFT_FORMULAS
from harness.counting.formulas.user import USER_FORMULAS
from harness.counting.formulas.zero import ZERO_COST_NAMES

# ATen name -> formula, one table per family; a name in two tables takes the later one.
_MAC_TABLE: dict[str, Formula] = {
    **MATMUL_FORMULAS,
    **CONV_FORMULAS,
    **ATTENTION_FORMULAS,
    **RNN_FORMULAS,
    **PRODUCT_FORMULAS,
    **CDIST_FORMULAS,
}
_OTHER_TABLE: dict[str, Formula] = {
    **RNN_CELL_FORMULAS,
    **LAYER_FORMULAS,
    **FUSED_OPTIMIZER_FORMULAS,
    **FFT_FORMULAS,
}


def _packet(name: str, namespace: str = "aten"):
    ns = getattr(torch.ops, namespace, None)
    if ns is None:
        return None
    try:
        return getattr(ns, name)
    except (AttributeError, RuntimeError):
        return None


def _resolve_names() -> tuple[dict[Any, Formula], dict[Any, Formula], set[Any]]:
    mac: dict[Any, Formula] = {}
    other: dict[Any, Formula] = {}
    zero: set[Any] = set()
    for name, f in _MAC_TABLE.items():
        p = _packet(name)
        if p is not None:
            mac[p] = f
    for name, f in _OTHER_TABLE.items():
        p = _packet(name)
        if p is not None:
            other[p] = f
    for name in ZERO_COST_NAMES:
        p = _packet(name)
        if p is not None:
            zero.add(p)
    return mac, other, zero


MAC_FORMULAS, OTHER_FORMULAS, ZERO_COST = _resolve_names()
_tv_resolved = False


def _resolve_torchvision() -> None:
    """torchvision registers its ops on import; add them once it has been imported."""
    global _tv_resolved
    if _tv_resolved or not hasattr(torch.ops, "torchvision"):
        return
    if "torchvision" not in sys.modules:
        return
    _tv_resolved = True
    for name, f in TORCHVISION_FORMULAS.items():
        p = _packet(name, "torchvision")
        if p is not None:
            (MAC_FORMULAS if name == "deform_conv2d" else OTHER_FORMULAS)[p] = f
    for name in ("nms",):
        p = _packet(name, "torchvision")
        if p is not None:
            ZERO_COST.add(p)


MATMUL_CLASS_HINT = re.compile(r"(mm|conv|matmul|linear|attention|rnn|lstm|gru|einsum|dot)", re.I)


@dataclass(frozen=True)
class OpRule:
    """How one OpOverload is costed: kind is 'mac', 'other', 'zero' or 'unknown'."""

    kind: str
    formula: Formula | None = None
    inplace: bool = False  # an in-place pointwise op: returns its first argument


# Tags differ between torch releases; a missing one matches nothing.
_TAG_POINTWISE = getattr(torch.Tag, "pointwise", object())
_TAG_REDUCTION = getattr(torch.Tag, "reduction", object())
_TAG_INPLACE = getattr(torch.Tag, "inplace", object())
_TAG_INPLACE_VIEW = getattr(torch.Tag, "inplace_view", object())


def _is_inplace(func: Any, name: str, tags: set) -> bool:
    """An in-place op returns its (mutated) first argument: `add_`, not `add` or `add.out`."""
    if _TAG_INPLACE in tags:
        return True
    try:
        schema = func._schema
        first = schema.arguments[0].alias_info
        ret = schema.returns[0].alias_info if schema.returns else None
        return bool(name.endswith("_") and first is not None and first.is_write and ret is not None)
    except (AttributeError, IndexError):
        return False


# Pointwise ops that do not carry the pointwise tag (checked against torch 2.14).
_UNTAGGED_POINTWISE = words(
    """hardswish log_sigmoid_forward log_sigmoid rrelu_with_noise _prelu_kernel prelu glu celu
    selu threshold softshrink hardshrink relu6 _conj_physical"""
)


def _pointwise_family(name: str) -> bool:
    """In-place variants and backwards of pointwise ops (not all carry the pointwise tag)."""
    if name in _UNTAGGED_POINTWISE:
        return True
    base = name
    if base.endswith("_backward"):
        base = base[: -len("_backward")]
    base = base.rstrip("_")
    if base == name:
        return False
    if base in _UNTAGGED_POINTWISE:
        return True
    packet = _packet(base)
    if packet is None:
        return False
    try:
        overload = getattr(packet, packet.overloads()[0])
    except (AttributeError, IndexError, RuntimeError):
        return False
    return _TAG_POINTWISE in set(overload.tags)


_RULES: dict[Any, OpRule] = {}


def rule_for(func: Any) -> OpRule:
    """The cost rule of an OpOverload (cached); a user formula (`register_formula`) first."""
    if USER_FORMULAS:
        user = USER_FORMULAS.get(func) or USER_FORMULAS.get(getattr(func, "overloadpacket", None))
        if user is not None:
            return OpRule("mac", user)
    r = _RULES.get(func)
    if r is not None:
        return r
    _resolve_torchvision()
    packet = getattr(func, "overloadpacket", None)
    name = getattr(packet, "__name__", str(func)).split(".")[-1]
    if packet in MAC_FORMULAS:
        r = OpRule("mac", MAC_FORMULAS[packet])
    elif packet in OTHER_FORMULAS:
        r = OpRule("other", OTHER_FORMULAS[packet])
    elif packet in ZERO_COST:
        r = OpRule("zero")
    elif name.startswith("_foreach_"):
        r = OpRule("other", foreach_formula(name))
    else:
        tags = set(getattr(func, "tags", ()) or ())
        if _TAG_POINTWISE in tags or _pointwise_family(name):
            r = OpRule("other", pointwise_formula(name), inplace=_is_inplace(func, name, tags))
        elif _TAG_REDUCTION in tags:
            r = OpRule("other", per_input(1))
        elif (
            getattr(func, "is_view", False)
            or _TAG_INPLACE_VIEW in tags
            or str(func).startswith(("prim.", "profiler."))
        ):
            r = OpRule("zero")
        else:
            r = OpRule("unknown")
    _RULES[func] = r
    return r


def op_name(func: Any) -> str:
    """'aten.mm' style name of an OpOverload's packet."""
    packet = getattr(func, "overloadpacket", func)
    return str(packet)


def looks_matmul_class(name: str) -> bool:
    """Whether an uncounted op's name suggests matmul-class work (robustness check)."""
    return bool(MATMUL_CLASS_HINT.search(name.split(".")[-1]))

"""Operator families (conv, matmul, attention, norm, other): the rows of the fvcore comparison.

Names are ours (`aten.` stripped, as in `FlopCount.by_op`) or fvcore's (its `by_operator()` keys
such as "conv", "linear", "batch_norm", and its unsupported "aten::name" entries).
"""

from __future__ import annotations

import re

FAMILIES: tuple[str, ...] = ("conv", "matmul", "attention", "norm", "other")
MATMUL_CLASS: tuple[str, ...] = ("conv", "matmul", "attention")

_ATTENTION = re.compile(r"attention|_native_multi_head|transformer_encoder_layer|attn", re.I)
_CONV = re.compile(r"conv", re.I)
_MATMUL = re.compile(
    r"^(_?addmm\w*|mm|bmm|baddbmm_?|addbmm_?|matmul|linear\w*|mkldnn_linear\w*|einsum|mv|addmv_?|"
    r"dot|vdot|outer|ger|addr_?|_scaled_mm|_int_mm|_weight_int8pack_mm|_trilinear|bilinear|"
    r"lstm\w*|gru\w*|rnn_\w+|_cudnn_rnn\w*|miopen_rnn\w*|mkldnn_rnn\w*|_lstm_mps|"
    r"_euclidean_dist|_cdist_\w+)$",
    re.I,
)
_NORM = re.compile(r"norm", re.I)


def family_of(name: str) -> str:
    """The family of an operator name ("aten::conv2d", "aten.mm", "addmm", "batch_norm")."""
    base = re.split(r"::|\.", name.strip())
    short = base[1] if len(base) > 1 and base[0] in ("aten", "torchvision") else base[0]
    if _ATTENTION.search(short):
        return "attention"
    if _CONV.search(short):
        return "conv"
    if _MATMUL.match(short):
        return "matmul"
    if _NORM.search(short):
        return "norm"
    return "other"


def by_family(per_op: dict[str, float]) -> dict[str, float]:
    """Per-operator figures summed by family (every family present, zeros included)."""
    out = dict.fromkeys(FAMILIES, 0.0)
    for name, value in per_op.items():
        out[family_of(name)] += value
    return out

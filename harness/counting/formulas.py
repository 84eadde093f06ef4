"""Per-operator cost formulas for the FLOP counter (harness/counting.py).

Every formula sees one ATen call as it reached the dispatcher (arguments and result, tensors
possibly on the meta device) and returns a `Cost`: `macs` for matmul-class work (one fused
multiply-add = 1; a FLOP count is 2 x MACs) and `other` for everything else, in FLOPs.

Conventions, written once here so the numbers can be checked by hand:

- Matmul-class ops (mm, addmm, bmm, baddbmm, matmul, linear, einsum, every convolution, every
  scaled-dot-product-attention kernel, the fused transformer fast paths, LSTM/GRU/RNN kernels)
  count MACs only; bias additions are not MACs (they go to `other`).
- Convolution: N x (output positions) x numel(weight), or input positions for a transposed
  convolution; `numel(weight)` already carries the 1/groups factor. Its backward costs one
  forward per gradient requested in `output_mask` (input, weight), plus one add per grad_output
  element for the bias gradient. Written from scratch: `torch.utils.flop_counter` ignores
  `groups` in the backward (a depthwise 3x3 conv's backward reads 32x too high there).
- Attention: QK^T and PV are B x H x Lq x Lk x (d_qk + d_v) MACs. Causal attention is counted
  in full unless `causal_half` is set, then halved (as FlashAttention and Megatron count it).
  Backward kernels count the algorithmic gradient work, dQ + dK + dV + dP = 2 x forward, so the
  count does not depend on which kernel ran; `attention_recompute` adds the QK^T recomputation
  that the fused kernels (flash, memory-efficient, cudnn) also perform.
- Recurrent kernels: per token and direction, every weight matrix is applied once: for an LSTM
  4H x (input + H) MACs, a GRU 3H x (input + H), a plain RNN H x (input + H). Their backward is
  one forward's worth for the data gradients plus one for the weight gradients.
- `other` FLOPs (optional column, never mixed into MACs): one FLOP per output element for every
  pointwise op (add, mul, relu, gelu, exp, ..., a convention: transcendental functions are not
  one instruction), with the exceptions in `_POINTWISE_COST` (add with alpha = 2, addcmul = 3,
  lerp = 3); reductions one per input element; softmax 5, log-softmax 5 and their backwards 4
  per element; layer/group norm 7 per element forward (mean, subtract, square, sum, scale,
  affine multiply and add) and 10 backward; batch norm 7 in training, 4 in eval, 10 backward;
  pooling one per window element per output; data movement, views, factories and selection
  (cat, index, gather, topk, nms) cost 0 by definition and are listed in `ZERO_COST`.
- Optimizers: their steps are pointwise (and `_foreach_*` lists of pointwise ops), so they are
  costed with the same per-element table; fused optimizer kernels have documented per-element
  costs in `_FUSED_OPTIMIZER_COST`.

An op that none of these rules covers is *uncounted*: the counter lists it with its call count.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

aten = torch.ops.aten


class Cost(NamedTuple):
    """MACs (matmul-class) and other FLOPs of one call; `tag` marks special cases (causal)."""

    macs: int = 0
    other: int = 0
    tag: str | None = None


@dataclass(frozen=True)
class FormulaOptions:
    causal_half: bool = False  # halve is_causal attention (FlashAttention/Megatron convention)
    attention_recompute: bool = False  # add the QK^T recompute of fused attention backward


Formula = Callable[[Sequence[Any], dict, Any, FormulaOptions], Cost]

ZERO = Cost()


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _arg(args: Sequence[Any], kwargs: dict, i: int, name: str, default: Any = None) -> Any:
    """Argument `i` (or keyword `name`); trailing defaults are omitted by the dispatcher."""
    if i < len(args):
        return args[i]
    return kwargs.get(name, default)


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in t.shape)


def _numel(t: Any) -> int:
    if isinstance(t, torch.Tensor):
        return int(t.numel())
    if isinstance(t, (list, tuple)):
        return sum(_numel(x) for x in t)
    return 0


def _first(out: Any) -> Any:
    while isinstance(out, (list, tuple)) and out:
        out = out[0]
    return out


def _out_numel(out: Any) -> int:
    first = _first(out)
    return int(first.numel()) if isinstance(first, torch.Tensor) else 0


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _prod(xs: Sequence[int]) -> int:
    return math.prod(int(x) for x in xs)


# --------------------------------------------------------------------------------------------
# Matrix products
# --------------------------------------------------------------------------------------------


def mm_macs(a_shape: Sequence[int], b_shape: Sequence[int]) -> int:
    """(m, k) @ (k, n): m*k*n."""
    m, k = a_shape
    k2, n = b_shape
    if k != k2:
        raise ValueError(f"mm: inner dimensions differ ({k} vs {k2})")
    return m * k * n


def bmm_macs(a_shape: Sequence[int], b_shape: Sequence[int]) -> int:
    """(b, m, k) @ (b, k, n): b*m*k*n."""
    b, m, k = a_shape
    _, _, n = b_shape
    return b * m * k * n


def matmul_macs(a_shape: Sequence[int], b_shape: Sequence[int]) -> int:
    """torch.matmul with broadcasting: output elements x the contracted size."""
    if len(a_shape) == 1 and len(b_shape) == 1:
        return a_shape[0]
    k = a_shape[-1]
    a_batch = a_shape[:-2] if len(a_shape) >= 2 else ()
    b_batch = b_shape[:-2] if len(b_shape) >= 2 else ()
    batch = torch.broadcast_shapes(tuple(a_batch), tuple(b_batch))
    m = a_shape[-2] if len(a_shape) >= 2 else 1
    n = b_shape[-1] if len(b_shape) >= 2 else 1
    return _prod(batch) * m * n * k


def _mm(args, kwargs, out, opts) -> Cost:
    a, b = args[0], args[1]
    return Cost(mm_macs(_shape(a), _shape(b)))


def _addmm(args, kwargs, out, opts) -> Cost:
    a, b = args[1], args[2]
    m, k = _shape(a)
    n = _shape(b)[1]
    return Cost(mm_macs((m, k), _shape(b)), m * n)


def _bmm(args, kwargs, out, opts) -> Cost:
    return Cost(bmm_macs(_shape(args[0]), _shape(args[1])))


def _baddbmm(args, kwargs, out, opts) -> Cost:
    macs = bmm_macs(_shape(args[1]), _shape(args[2]))
    return Cost(macs, _out_numel(out))


def _addbmm(args, kwargs, out, opts) -> Cost:
    macs = bmm_macs(_shape(args[1]), _shape(args[2]))
    return Cost(macs, _out_numel(out))


def _matmul(args, kwargs, out, opts) -> Cost:
    return Cost(matmul_macs(_shape(args[0]), _shape(args[1])))


def _mv(args, kwargs, out, opts) -> Cost:
    return Cost(_numel(args[0]))


def _addmv(args, kwargs, out, opts) -> Cost:
    return Cost(_numel(args[1]), _out_numel(out))


def _dot(args, kwargs, out, opts) -> Cost:
    return Cost(_numel(args[0]))


def _outer(args, kwargs, out, opts) -> Cost:
    return Cost(_out_numel(out))


def _linear(args, kwargs, out, opts) -> Cost:
    """linear(x, W[out, in], b): every output element is an `in`-long dot product."""
    w = args[1]
    in_features = _shape(w)[-1]
    bias = _arg(args, kwargs, 2, "bias")
    return Cost(_out_numel(out) * in_features, _out_numel(out) if bias is not None else 0)


def _linear_backward(args, kwargs, out, opts) -> Cost:
    """linear_backward(input, grad_output, weight, output_mask[input, weight, bias])."""
    grad_out, weight, mask = args[1], args[2], args[3]
    one = _numel(grad_out) * _shape(weight)[-1]
    macs = one * (int(bool(mask[0])) + int(bool(mask[1])))
    return Cost(macs, _numel(grad_out) if mask[2] else 0)


def _weight_int8pack_mm(args, kwargs, out, opts) -> Cost:
    return Cost(_out_numel(out) * _shape(args[0])[-1])


def _scaled_mm(args, kwargs, out, opts) -> Cost:
    return Cost(mm_macs(_shape(args[0]), _shape(args[1])))


def einsum_macs(equation: str, shapes: Sequence[Sequence[int]]) -> int:
    """Pairwise left-to-right contraction (torch's order without opt_einsum): each step costs
    the product of the sizes of every index of the two operands."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: {len(terms)} operands in {equation!r}, {len(shapes)} given")
    used = set(re.sub(r"[^A-Za-z]", "", eq))
    spare = (c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used)
    ell_len = max(
        (
            len(s) - len(t.replace("...", ""))
            for t, s in zip(terms, shapes, strict=True)
            if "..." in t
        ),
        default=0,
    )
    ell = "".join(next(spare) for _ in range(ell_len))
    subs: list[str] = []
    sizes: dict[str, int] = {}
    for t, shape in zip(terms, shapes, strict=True):
        if "..." in t:
            n = len(shape) - len(t.replace("...", ""))
            t = t.replace("...", ell[ell_len - n :] if n else "")
        for c, s in zip(t, shape, strict=True):
            sizes[c] = max(sizes.get(c, 1), int(s))
        subs.append(t)
    if arrow:
        out_subs = rhs.replace("...", ell)
    else:  # implicit output: the ellipsis, then indices seen once, sorted
        joined = "".join(subs)
        out_subs = ell + "".join(
            sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ell)
        )
    if len(subs) == 1:
        return 0
    macs = 0
    cur = set(subs[0])
    for i in range(1, len(subs)):
        both = cur | set(subs[i])
        keep = set(out_subs).union(*(set(s) for s in subs[i + 1 :]))
        macs += _prod([sizes[c] for c in both])
        cur = {c for c in both if c in keep}
    return macs


def _einsum(args, kwargs, out, opts) -> Cost:
    equation, operands = args[0], args[1]
    return Cost(einsum_macs(equation, [_shape(t) for t in operands]))


# --------------------------------------------------------------------------------------------
# Convolution
# --------------------------------------------------------------------------------------------


def conv_macs(
    x_shape: Sequence[int], w_shape: Sequence[int], out_shape: Sequence[int], transposed: bool
) -> int:
    """N x positions x numel(weight): positions of the output (or of the input if transposed).

    `numel(weight)` = C_out x C_in/groups x kernel for a convolution and C_in x C_out/groups x
    kernel for a transposed one, so groups and depthwise convolutions are exact. Unbatched
    inputs (one dim fewer than the weight) count as a batch of one.
    """
    spatial_dims = len(w_shape) - 2
    ref = x_shape if transposed else out_shape
    if len(ref) == spatial_dims + 1:  # unbatched
        n, positions = 1, _prod(ref[1:])
    else:
        n, positions = ref[0], _prod(ref[2:])
    return n * positions * _prod(w_shape)


def _conv_generic(
    x_idx: int, w_idx: int, transposed: bool = False, transposed_idx: int | None = None
) -> Formula:
    """A convolution op with input/weight at `x_idx`/`w_idx`; `transposed_idx` is the position
    of a `transposed` flag where the op has one."""

    def f(args, kwargs, out, opts) -> Cost:
        x, w = args[x_idx], args[w_idx]
        tr = bool(args[transposed_idx]) if transposed_idx is not None else transposed
        first = _first(out)
        macs = conv_macs(_shape(x), _shape(w), _shape(first), tr)
        has_bias = w_idx == 1 and len(args) > 2 and isinstance(args[2], torch.Tensor)
        return Cost(macs, _numel(first) if has_bias else 0)

    return f


def _conv_backward(grad_idx, x_idx, w_idx, transposed_idx, mask_idx) -> Formula:
    """Backward: one forward's MACs per gradient requested (input, weight); bias grad = adds."""

    def f(args, kwargs, out, opts) -> Cost:
        grad_out, x, w = args[grad_idx], args[x_idx], args[w_idx]
        tr = bool(args[transposed_idx]) if transposed_idx is not None else False
        mask = args[mask_idx]
        fwd = conv_macs(_shape(x), _shape(w), _shape(grad_out), tr)
        macs = fwd * (int(bool(mask[0])) + int(bool(mask[1])))
        other = _numel(grad_out) if len(mask) > 2 and mask[2] else 0
        return Cost(macs, other)

    return f


# --------------------------------------------------------------------------------------------
# Attention
# --------------------------------------------------------------------------------------------


def attention_macs(q_shape: Sequence[int], k_shape: Sequence[int], v_shape: Sequence[int]) -> int:
    """QK^T + PV for (..., Lq, d) x (..., Lk, d) x (..., Lk, dv): the query's batch dims
    (batch x heads, GQA included) x Lq x Lk x (d + dv)."""
    lq, d = q_shape[-2], q_shape[-1]
    lk, dv = k_shape[-2], v_shape[-1]
    return _prod(q_shape[:-2]) * lq * lk * (d + dv)


def attention_backward_macs(
    q_shape: Sequence[int],
    k_shape: Sequence[int],
    v_shape: Sequence[int],
    grads: Sequence[bool] = (True, True, True),
    recompute: bool = False,
) -> int:
    """dP = dO V^T (needed for dQ or dK), dV = P^T dO, dQ = dS K, dK = dS^T Q."""
    lq, d = q_shape[-2], q_shape[-1]
    lk, dv = k_shape[-2], v_shape[-1]
    base = _prod(q_shape[:-2]) * lq * lk
    gq, gk, gv = (bool(g) for g in grads)
    per = (dv if (gq or gk) else 0) + (dv if gv else 0) + (d if gq else 0) + (d if gk else 0)
    if recompute:
        per += d
    return base * per


def _causal(macs: int, is_causal: bool, opts: FormulaOptions) -> Cost:
    if not is_causal:
        return Cost(macs)
    if opts.causal_half:
        return Cost(macs // 2, tag="causal-half")
    return Cost(macs, tag="causal-full")


def _bhld(t) -> tuple[int, ...]:
    """(B, L, H, d) -> (B, H, L, d) for the low-level flash/efficient kernels."""
    s = _shape(t)
    return (s[0], s[2], s[1], s[3]) if len(s) == 4 else s


def _varlen_shapes(q, k, v, cum_q, cum_k, max_q, max_k):
    """Per-sequence (1, H, L, d) shapes of a varlen (nested) call, or an upper bound on meta."""
    _, h, d = _shape(q)
    hk, dk = _shape(k)[1], _shape(k)[2]
    dv = _shape(v)[2]
    n = int(cum_q.shape[0]) - 1
    if cum_q.device.type in ("meta",) or type(cum_q).__name__ == "FakeTensor":
        lens = [(int(max_q), int(max_k))] * n
    else:
        lq = cum_q.diff().tolist()
        lk = (cum_k if cum_k is not None else cum_q).diff().tolist()
        lens = list(zip(lq, lk, strict=True))
    return [((1, h, a, d), (1, hk, b, dk), (1, hk, b, dv)) for a, b in lens]


def _sdpa_bhld_fwd(causal_idx: int | None, causal_name: str = "is_causal") -> Formula:
    """Kernels taking (B, H, L, d) tensors: flash/efficient/cudnn/flash-for-cpu/overrideable."""

    def f(args, kwargs, out, opts) -> Cost:
        q, k, v = args[0], args[1], args[2]
        is_causal = (
            bool(_arg(args, kwargs, causal_idx, causal_name, False)) if causal_idx else False
        )
        return _causal(attention_macs(_shape(q), _shape(k), _shape(v)), is_causal, opts)

    return f


def _sdpa_bhld_bwd(causal_idx: int, mask_idx: int | None = None) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        q, k, v = args[1], args[2], args[3]
        is_causal = bool(_arg(args, kwargs, causal_idx, "is_causal", False))
        grads = (True, True, True)
        if mask_idx is not None:
            m = _arg(args, kwargs, mask_idx, "grad_input_mask", None)
            if m is not None:
                grads = tuple(bool(x) for x in m[:3])
        macs = attention_backward_macs(
            _shape(q), _shape(k), _shape(v), grads, opts.attention_recompute
        )
        return _causal(macs, is_causal, opts)

    return f


def _sdpa_math(args, kwargs, out, opts) -> Cost:
    """scaled_dot_product_attention / _math when they reach the dispatcher (inference mode)."""
    q, k, v = args[0], args[1], args[2]
    is_causal = bool(_arg(args, kwargs, 5, "is_causal", False))
    return _causal(attention_macs(_shape(q), _shape(k), _shape(v)), is_causal, opts)


def _flash_forward(args, kwargs, out, opts) -> Cost:
    """_flash_attention_forward: (B, L, H, d), or varlen (T, H, d) with cumulative lengths."""
    q, k, v = args[0], args[1], args[2]
    cum_q, cum_k = _arg(args, kwargs, 3, "cum_seq_q"), _arg(args, kwargs, 4, "cum_seq_k")
    is_causal = bool(_arg(args, kwargs, 8, "is_causal", False))
    if cum_q is None:
        macs = attention_macs(_bhld(q), _bhld(k), _bhld(v))
    else:
        max_q, max_k = _arg(args, kwargs, 5, "max_q"), _arg(args, kwargs, 6, "max_k")
        macs = sum(attention_macs(*s) for s in _varlen_shapes(q, k, v, cum_q, cum_k, max_q, max_k))
    return _causal(macs, is_causal, opts)


def _flash_backward(args, kwargs, out, opts) -> Cost:
    q, k, v = args[1], args[2], args[3]
    cum_q, cum_k = _arg(args, kwargs, 6, "cum_seq_q"), _arg(args, kwargs, 7, "cum_seq_k")
    is_causal = bool(_arg(args, kwargs, 11, "is_causal", False))
    rc = opts.attention_recompute
    if cum_q is None:
        macs = attention_backward_macs(_bhld(q), _bhld(k), _bhld(v), recompute=rc)
    else:
        max_q, max_k = _arg(args, kwargs, 8, "max_q"), _arg(args, kwargs, 9, "max_k")
        shapes = _varlen_shapes(q, k, v, cum_q, cum_k, max_q, max_k)
        macs = sum(attention_backward_macs(*s, recompute=rc) for s in shapes)
    return _causal(macs, is_causal, opts)


def _efficient_forward(args, kwargs, out, opts) -> Cost:
    """_efficient_attention_forward: (B, L, H, d); custom_mask_type 1/2 = causal."""
    q, k, v = args[0], args[1], args[2]
    cu_q, cu_k = _arg(args, kwargs, 4, "cu_seqlens_q"), _arg(args, kwargs, 5, "cu_seqlens_k")
    mask_type = int(_arg(args, kwargs, 9, "custom_mask_type", 0) or 0)
    if cu_q is None:
        macs = attention_macs(_bhld(q), _bhld(k), _bhld(v))
    else:  # varlen: (1, T, H, d)
        max_q, max_k = _arg(args, kwargs, 6, "max_seqlen_q"), _arg(args, kwargs, 7, "max_seqlen_k")
        q3, k3, v3 = q[0], k[0], v[0]
        macs = sum(attention_macs(*s) for s in _varlen_shapes(q3, k3, v3, cu_q, cu_k, max_q, max_k))
    return _causal(macs, mask_type in (1, 2), opts)


def _efficient_backward(args, kwargs, out, opts) -> Cost:
    q, k, v = args[1], args[2], args[3]
    cu_q, cu_k = _arg(args, kwargs, 6, "cu_seqlens_q"), _arg(args, kwargs, 7, "cu_seqlens_k")
    mask_type = int(_arg(args, kwargs, 14, "custom_mask_type", 0) or 0)
    rc = opts.attention_recompute
    if cu_q is None:
        macs = attention_backward_macs(_bhld(q), _bhld(k), _bhld(v), recompute=rc)
    else:
        max_q, max_k = _arg(args, kwargs, 8, "max_seqlen_q"), _arg(args, kwargs, 9, "max_seqlen_k")
        shapes = _varlen_shapes(q[0], k[0], v[0], cu_q, cu_k, max_q, max_k)
        macs = sum(attention_backward_macs(*s, recompute=rc) for s in shapes)
    return _causal(macs, mask_type in (1, 2), opts)


def _cudnn_attention_forward(args, kwargs, out, opts) -> Cost:
    """_cudnn_attention_forward: (B, H, L, d), or varlen (T, H, d) with cumulative lengths."""
    q, k, v = args[0], args[1], args[2]
    cum_q, cum_k = _arg(args, kwargs, 4, "cum_seq_q"), _arg(args, kwargs, 5, "cum_seq_k")
    is_causal = bool(_arg(args, kwargs, 10, "is_causal", False))
    if cum_q is None or q.dim() == 4:
        macs = attention_macs(_shape(q), _shape(k), _shape(v))
    else:
        max_q, max_k = _arg(args, kwargs, 6, "max_q"), _arg(args, kwargs, 7, "max_k")
        macs = sum(attention_macs(*s) for s in _varlen_shapes(q, k, v, cum_q, cum_k, max_q, max_k))
    return _causal(macs, is_causal, opts)


def _cudnn_attention_backward(args, kwargs, out, opts) -> Cost:
    q, k, v = args[1], args[2], args[3]
    cum_q, cum_k = _arg(args, kwargs, 9, "cum_seq_q"), _arg(args, kwargs, 10, "cum_seq_k")
    is_causal = bool(_arg(args, kwargs, 14, "is_causal", False))
    rc = opts.attention_recompute
    if cum_q is None or q.dim() == 4 or cum_q.numel() == 0:
        macs = attention_backward_macs(_shape(q), _shape(k), _shape(v), recompute=rc)
    else:
        max_q, max_k = _arg(args, kwargs, 11, "max_q"), _arg(args, kwargs, 12, "max_k")
        shapes = _varlen_shapes(q, k, v, cum_q, cum_k, max_q, max_k)
        macs = sum(attention_backward_macs(*s, recompute=rc) for s in shapes)
    return _causal(macs, is_causal, opts)


def _native_mha(args, kwargs, out, opts) -> Cost:
    """_native_multi_head_attention (nn.MultiheadAttention fast path, eval + no_grad).

    q, k, v are (B, L, E) (or (L, E)). Projections: Lq x E x E for Q, Lk x E x E for each of K
    and V, Lq x E x E for the output; attention: Lq x Lk x 2E (all heads together).
    """
    q, k = args[0], args[1]
    qkv_w, proj_w = args[5], args[7]
    qs, ks = _shape(q), _shape(k)
    b = qs[0] if len(qs) == 3 else 1
    lq, lk, e = qs[-2], ks[-2], qs[-1]
    e_qkv = _shape(qkv_w)[0] // 3
    proj = b * (lq * e * e_qkv + 2 * lk * e * e_qkv) + b * lq * _numel(proj_w)
    attn = b * lq * lk * 2 * e_qkv
    return Cost(proj + attn, b * (lq + 2 * lk) * e_qkv + b * lq * e)


def _transformer_encoder_layer_fwd(args, kwargs, out, opts) -> Cost:
    """_transformer_encoder_layer_fwd (nn.TransformerEncoderLayer fast path, eval + no_grad).

    Per token: QKV (3E x E), output projection (E x E), feed-forward (F x E twice), plus
    attention L x 2E. Nested (padded-away) inputs count their real sequence lengths.
    """
    src = args[0]
    qkv_w, proj_w = args[3], args[5]
    ffn_w1, ffn_w2 = args[14], args[16]
    per_token = _numel(qkv_w) + _numel(proj_w) + _numel(ffn_w1) + _numel(ffn_w2)
    e = _shape(proj_w)[0]
    lengths = _sequence_lengths(src)
    macs = sum(n * per_token + n * n * 2 * e for n in lengths)
    return Cost(macs, sum(lengths) * (12 * e + 2 * _shape(ffn_w1)[0]))


def _sequence_lengths(src) -> list[int]:
    if getattr(src, "is_nested", False):
        return [int(t.shape[0]) for t in src.unbind()]
    s = _shape(src)
    if len(s) == 2:
        return [s[0]]
    return [s[1]] * s[0]


# --------------------------------------------------------------------------------------------
# Recurrent networks
# --------------------------------------------------------------------------------------------

# cuDNN/MIOpen RNN modes: 0 = RNN_RELU, 1 = RNN_TANH, 2 = LSTM, 3 = GRU
_GATES = {0: 1, 1: 1, 2: 4, 3: 3}


def rnn_macs_per_token(
    mode: int,
    input_size: int,
    hidden_size: int,
    num_layers: int,
    bidirectional: bool,
    proj_size: int = 0,
) -> int:
    """MACs per token (time step x batch element) of a stacked (bi)RNN from its hyperparameters.

    gates x H x (input + recurrent) per layer and direction, plus the LSTM projection P x H.
    """
    gates = _GATES[int(mode)]
    dirs = 2 if bidirectional else 1
    out_size = proj_size or hidden_size
    total = 0
    for layer in range(num_layers):
        in_l = input_size if layer == 0 else out_size * dirs
        per_dir = gates * hidden_size * (in_l + out_size) + (
            proj_size * hidden_size if proj_size else 0
        )
        total += dirs * per_dir
    return total


def _rnn_tokens(x, batch_sizes_given: bool, batched_dims: int = 3) -> int:
    s = _shape(x)
    if batch_sizes_given or len(s) < batched_dims:
        return s[0]
    return s[0] * s[1]


def _rnn_input(args, kwargs, out, opts) -> Cost:
    """aten.lstm/gru/rnn_tanh/rnn_relu .input: tokens x sum of weight-matrix sizes."""
    x, params = args[0], args[2]
    weights = sum(_numel(p) for p in params if p.dim() == 2)
    return Cost(_rnn_tokens(x, False) * weights)


def _rnn_data(args, kwargs, out, opts) -> Cost:
    """The packed-sequence overloads (.data): data is (sum of lengths, input)."""
    data, params = args[0], args[3]
    weights = sum(_numel(p) for p in params if p.dim() == 2)
    return Cost(_shape(data)[0] * weights)


def _rnn_dispatch(args, kwargs, out, opts) -> Cost:
    """lstm/gru/rnn_* packet: `.data` overloads carry an integer batch_sizes tensor second."""
    second = args[1]
    if isinstance(second, torch.Tensor) and second.dim() == 1 and not second.is_floating_point():
        return _rnn_data(args, kwargs, out, opts)
    return _rnn_input(args, kwargs, out, opts)


def _cudnn_rnn(args, kwargs, out, opts) -> Cost:
    """_cudnn_rnn(input, weight[], stride0, weight_buf, hx, cx, mode, hidden, proj, layers,
    batch_first, dropout, train, bidirectional, batch_sizes, dropout_state)."""
    x = args[0]
    mode, hidden, proj, layers = args[6], args[7], args[8], args[9]
    bidirectional, batch_sizes = args[13], args[14]
    per = rnn_macs_per_token(mode, _shape(x)[-1], hidden, layers, bidirectional, proj)
    return Cost(_rnn_tokens(x, bool(batch_sizes)) * per)


def _cudnn_rnn_backward(args, kwargs, out, opts) -> Cost:
    """Data gradients (all layers, always: the weight gradients need them) + weight gradients."""
    x = args[0]
    mode, hidden, proj, layers = args[10], args[11], args[12], args[13]
    bidirectional, batch_sizes, mask = args[17], args[18], args[21]
    per = rnn_macs_per_token(mode, _shape(x)[-1], hidden, layers, bidirectional, proj)
    fwd = _rnn_tokens(x, bool(batch_sizes)) * per
    return Cost(fwd * (1 + int(bool(mask[3]))))


def _miopen_rnn(args, kwargs, out, opts) -> Cost:
    x = args[0]
    mode, hidden, layers, bidirectional, batch_sizes = args[5], args[6], args[7], args[11], args[12]
    per = rnn_macs_per_token(mode, _shape(x)[-1], hidden, layers, bidirectional)
    return Cost(_rnn_tokens(x, bool(batch_sizes)) * per)


def _miopen_rnn_backward(args, kwargs, out, opts) -> Cost:
    x = args[0]
    mode, hidden, layers = args[10], args[11], args[12]
    bidirectional, batch_sizes, mask = args[16], args[17], args[20]
    per = rnn_macs_per_token(mode, _shape(x)[-1], hidden, layers, bidirectional)
    return Cost(_rnn_tokens(x, bool(batch_sizes)) * per * (1 + int(bool(mask[3]))))


def _mkldnn_rnn_layer(args, kwargs, out, opts) -> Cost:
    """One layer, one direction (oneDNN on CPU): tokens x (numel W_ih + numel W_hh)."""
    x, w_ih, w_hh = args[0], args[1], args[2]
    return Cost(_rnn_tokens(x, False) * (_numel(w_ih) + _numel(w_hh)))


def _mkldnn_rnn_layer_backward(args, kwargs, out, opts) -> Cost:
    """oneDNN computes data and weight gradients together: 2 x forward."""
    x, w_ih, w_hh = args[0], args[1], args[2]
    return Cost(2 * _rnn_tokens(x, False) * (_numel(w_ih) + _numel(w_hh)))


def _rnn_cell(args, kwargs, out, opts) -> Cost:
    """lstm_cell/gru_cell/rnn_*_cell(input, hx, w_ih, w_hh, ...): rows x weight sizes."""
    x, w_ih, w_hh = args[0], args[2], args[3]
    rows = _shape(x)[0] if x.dim() == 2 else 1
    return Cost(rows * (_numel(w_ih) + _numel(w_hh)))


def _lstm_mps(args, kwargs, out, opts) -> Cost:
    return _rnn_input(args, kwargs, out, opts)


def _fused_lstm_cell(args, kwargs, out, opts) -> Cost:
    """Elementwise part of an LSTM step (gates come from mm): 21 FLOPs per hidden unit."""
    gates = args[0]
    return Cost(0, _numel(gates) // 4 * 21)


def _fused_lstm_cell_backward(args, kwargs, out, opts) -> Cost:
    cx = args[2]
    return Cost(0, _numel(cx) * 20)


def _fused_gru_cell(args, kwargs, out, opts) -> Cost:
    """Elementwise part of a GRU step: 16 FLOPs per hidden unit."""
    gates = args[0]
    return Cost(0, _numel(gates) // 3 * 16)


def _fused_gru_cell_backward(args, kwargs, out, opts) -> Cost:
    grad = args[0]
    return Cost(0, _numel(grad) * 20)


# --------------------------------------------------------------------------------------------
# Non-matmul ops (the `other` column)
# --------------------------------------------------------------------------------------------


def _per_output(cost: int) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        return Cost(0, cost * _out_numel(out))

    return f


def _per_input(cost: int, idx: int = 0) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        return Cost(0, cost * _numel(args[idx]))

    return f


def _batch_norm(train_idx: int | None) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        training = (
            bool(args[train_idx]) if train_idx is not None and train_idx < len(args) else True
        )
        return Cost(0, (7 if training else 4) * _numel(args[0]))

    return f


def _bn_no_training(args, kwargs, out, opts) -> Cost:
    return Cost(0, 4 * _numel(args[0]))


def _pool(kernel_idx: int, spatial: int) -> Formula:
    """Max/avg pooling: one op per window element per output element."""

    def f(args, kwargs, out, opts) -> Cost:
        k = args[kernel_idx]
        k = list(k) if isinstance(k, (list, tuple)) else [int(k)]
        if len(k) == 1:
            k = k * spatial
        return Cost(0, _out_numel(out) * _prod(k))

    return f


def _interp(taps_per_dim: int) -> Formula:
    """Linear-family upsampling: (2 x taps - 1) FLOPs per output element."""

    def f(args, kwargs, out, opts) -> Cost:
        first = _first(out)
        spatial = max(first.dim() - 2, 1)
        taps = taps_per_dim**spatial
        return Cost(0, _numel(first) * (2 * taps - 1))

    return f


def _interp_backward(taps_per_dim: int) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        grad = args[0]
        spatial = max(grad.dim() - 2, 1)
        return Cost(0, _numel(grad) * 2 * taps_per_dim**spatial)

    return f


def _index_add_like(src_idx: int) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        return Cost(0, _numel(args[src_idx]) if src_idx < len(args) else 0)

    return f


def _index_put(args, kwargs, out, opts) -> Cost:
    accumulate = bool(_arg(args, kwargs, 3, "accumulate", False))
    return Cost(0, _numel(args[2]) if accumulate else 0)


def _embedding_bag(args, kwargs, out, opts) -> Cost:
    weight, indices = args[0], args[1]
    mode = int(_arg(args, kwargs, 4, "mode", 0))
    return Cost(0, 0 if mode == 2 else _numel(indices) * _shape(weight)[-1])


def _roi_align(args, kwargs, out, opts) -> Cost:
    """torchvision roi_align: 4 bilinear taps x samples per bin (adaptive -> 2x2 assumed)."""
    sampling = int(_arg(args, kwargs, 5, "sampling_ratio", -1))
    samples = sampling * sampling if sampling > 0 else 4
    return Cost(0, _out_numel(out) * samples * 8)


def _roi_align_backward(args, kwargs, out, opts) -> Cost:
    sampling = int(_arg(args, kwargs, 9, "sampling_ratio", -1))
    samples = sampling * sampling if sampling > 0 else 4
    return Cost(0, _numel(args[0]) * samples * 8)


def _fused_optimizer(per_element: int) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        return Cost(0, per_element * _numel(args[0]))

    return f


# Per-element cost of pointwise ops that are more than one operation.
_POINTWISE_COST: dict[str, int] = {
    "addcmul": 3,
    "addcdiv": 3,
    "lerp": 3,
    "hardswish": 4,
    "hardsigmoid": 3,
    "silu": 4,
    "mish": 6,
    "softplus": 3,
    "elu": 3,
    "gelu": 8,  # 0.5 x (1 + erf(x / sqrt 2)) x x
    "sigmoid": 4,
    "tanh": 5,
    "hardtanh": 2,
    "clamp": 2,
    "leaky_relu": 2,
}

# Fused optimizer kernels (per parameter element; the unfused code path counts its own ops).
_FUSED_OPTIMIZER_COST = {
    "_fused_adam": 13,  # lerp 3, mul 1, addcmul 3, sqrt 1, div 1, add 1, addcdiv 3
    "_fused_adamw": 14,  # + decoupled weight decay 1
    "_fused_sgd": 5,  # momentum mul 1 + add 2, update 2
    "_fused_adagrad": 9,
}


def pointwise_cost(name: str, args: Sequence[Any], kwargs: dict) -> int:
    """Per-element FLOPs of a pointwise op (see module docstring)."""
    base = name.rstrip("_")
    if base in ("add", "sub", "rsub"):
        alpha = kwargs.get("alpha", args[2] if len(args) > 2 else 1)
        return 1 if alpha in (1, 1.0, None) else 2
    if base in ("addcmul", "addcdiv"):
        value = kwargs.get("value", args[3] if len(args) > 3 else 1)
        return 2 if value in (1, 1.0, None) else 3
    return _POINTWISE_COST.get(base, 1)


def _pointwise(name: str) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        return Cost(0, pointwise_cost(name, args, kwargs) * _out_numel(out))

    return f


def _foreach(name: str) -> Formula:
    """`_foreach_<op>(list, ...)`: the pointwise cost of <op> over every tensor of the list."""
    base = name[len("_foreach_") :]
    reduction = base.rstrip("_") in ("norm", "max")

    def f(args, kwargs, out, opts) -> Cost:
        lst = args[0]
        n = _numel(lst)
        if reduction:
            return Cost(0, (2 if base.startswith("norm") else 1) * n)
        # the per-element cost (alpha/value scalars) is read off the first call of the list
        return Cost(0, pointwise_cost(base, [None, *args[1:]], kwargs) * n)

    return f


# --------------------------------------------------------------------------------------------
# The tables
# --------------------------------------------------------------------------------------------


def _packet(name: str, namespace: str = "aten"):
    ns = getattr(torch.ops, namespace, None)
    if ns is None:
        return None
    try:
        return getattr(ns, name)
    except (AttributeError, RuntimeError):
        return None


_MAC_TABLE: dict[str, Formula] = {
    # matrix products
    "mm": _mm,
    "addmm": _addmm,
    "_addmm_activation": _addmm,
    "bmm": _bmm,
    "baddbmm": _baddbmm,
    "addbmm": _addbmm,
    "matmul": _matmul,
    "linear": _linear,
    "mkldnn_linear": _linear,
    "linear_backward": _linear_backward,
    "mkldnn_linear_backward": _linear_backward,
    "einsum": _einsum,
    "mv": _mv,
    "addmv": _addmv,
    "dot": _dot,
    "vdot": _dot,
    "outer": _outer,
    "ger": _outer,
    "addr": _outer,
    "_scaled_mm": _scaled_mm,
    "_int_mm": _mm,
    "_weight_int8pack_mm": _weight_int8pack_mm,
    # convolution
    "convolution": _conv_generic(0, 1, transposed_idx=6),
    "_convolution": _conv_generic(0, 1, transposed_idx=6),
    "convolution_overrideable": _conv_generic(0, 1, transposed_idx=6),
    "conv1d": _conv_generic(0, 1),
    "conv2d": _conv_generic(0, 1),
    "conv3d": _conv_generic(0, 1),
    "_convolution_mode": _conv_generic(0, 1),
    "conv_transpose1d": _conv_generic(0, 1, True),
    "conv_transpose2d": _conv_generic(0, 1, True),
    "conv_transpose3d": _conv_generic(0, 1, True),
    "cudnn_convolution": _conv_generic(0, 1),
    "cudnn_convolution_transpose": _conv_generic(0, 1, True),
    "cudnn_convolution_relu": _conv_generic(0, 1),
    "cudnn_convolution_add_relu": _conv_generic(0, 1),
    "mkldnn_convolution": _conv_generic(0, 1),
    "miopen_convolution": _conv_generic(0, 1),
    "miopen_depthwise_convolution": _conv_generic(0, 1),
    "miopen_convolution_transpose": _conv_generic(0, 1, True),
    "_mps_convolution": _conv_generic(0, 1),
    "_mps_convolution_transpose": _conv_generic(0, 1, True),
    "_slow_conv2d_forward": _conv_generic(0, 1),
    "thnn_conv2d": _conv_generic(0, 1),
    "slow_conv3d": _conv_generic(0, 1),
    "slow_conv3d_forward": _conv_generic(0, 1),
    "slow_conv_dilated2d": _conv_generic(0, 1),
    "slow_conv_dilated3d": _conv_generic(0, 1),
    "_conv_depthwise2d": _conv_generic(0, 1),
    "conv_depthwise3d": _conv_generic(0, 1),
    "_nnpack_spatial_convolution": _conv_generic(0, 1),
    "slow_conv_transpose2d": _conv_generic(0, 1, True),
    "slow_conv_transpose3d": _conv_generic(0, 1, True),
    "convolution_backward": _conv_backward(0, 1, 2, 7, 10),
    "convolution_backward_overrideable": _conv_backward(0, 1, 2, 6, 9),
    "_slow_conv2d_backward": _conv_backward(0, 1, 2, None, 6),
    # attention
    "scaled_dot_product_attention": _sdpa_math,
    "_scaled_dot_product_attention_math": _sdpa_math,
    "_scaled_dot_product_attention_math_for_mps": _sdpa_math,
    "_scaled_dot_product_flash_attention_for_cpu": _sdpa_bhld_fwd(4),
    "_scaled_dot_product_flash_attention": _sdpa_bhld_fwd(4),
    "_scaled_dot_product_efficient_attention": _sdpa_bhld_fwd(6),
    "_scaled_dot_product_cudnn_attention": _sdpa_bhld_fwd(6),
    "_scaled_dot_product_fused_attention_overrideable": _sdpa_bhld_fwd(5),
    "_scaled_dot_product_flash_attention_for_cpu_backward": _sdpa_bhld_bwd(7),
    "_scaled_dot_product_flash_attention_backward": _sdpa_bhld_bwd(11),
    "_scaled_dot_product_efficient_attention_backward": _sdpa_bhld_bwd(11, 10),
    "_scaled_dot_product_cudnn_attention_backward": _sdpa_bhld_bwd(14),
    "_scaled_dot_product_fused_attention_overrideable_backward": _sdpa_bhld_bwd(13, 5),
    "_flash_attention_forward": _flash_forward,
    "_flash_attention_backward": _flash_backward,
    "_efficient_attention_forward": _efficient_forward,
    "_efficient_attention_backward": _efficient_backward,
    "_cudnn_attention_forward": _cudnn_attention_forward,
    "_cudnn_attention_backward": _cudnn_attention_backward,
    "_native_multi_head_attention": _native_mha,
    "_transformer_encoder_layer_fwd": _transformer_encoder_layer_fwd,
    # recurrent
    "lstm": _rnn_dispatch,
    "gru": _rnn_dispatch,
    "rnn_tanh": _rnn_dispatch,
    "rnn_relu": _rnn_dispatch,
    "_cudnn_rnn": _cudnn_rnn,
    "_cudnn_rnn_backward": _cudnn_rnn_backward,
    "miopen_rnn": _miopen_rnn,
    "miopen_rnn_backward": _miopen_rnn_backward,
    "mkldnn_rnn_layer": _mkldnn_rnn_layer,
    "mkldnn_rnn_layer_backward": _mkldnn_rnn_layer_backward,
    "_lstm_mps": _lstm_mps,
    "lstm_cell": _rnn_cell,
    "gru_cell": _rnn_cell,
    "rnn_tanh_cell": _rnn_cell,
    "rnn_relu_cell": _rnn_cell,
}

_OTHER_TABLE: dict[str, Formula] = {
    # fused recurrent cells (elementwise; their gates come from counted matmuls)
    "_thnn_fused_lstm_cell": _fused_lstm_cell,
    "_thnn_fused_lstm_cell_backward": _fused_lstm_cell_backward,
    "_thnn_fused_lstm_cell_backward_impl": _fused_lstm_cell_backward,
    "_thnn_differentiable_lstm_cell_backward": _fused_lstm_cell_backward,
    "_thnn_fused_gru_cell": _fused_gru_cell,
    "_thnn_fused_gru_cell_backward": _fused_gru_cell_backward,
    "_thnn_differentiable_gru_cell_backward": _fused_gru_cell_backward,
    "lstm_mps_backward": _per_input(2, 1),
    # normalisation
    "native_layer_norm": _per_input(7),
    "layer_norm": _per_input(7),
    "native_layer_norm_backward": _per_input(10),
    "native_group_norm": _per_input(7),
    "group_norm": _per_input(7),
    "native_group_norm_backward": _per_input(10),
    "_fused_rms_norm": _per_input(4),
    "rms_norm": _per_input(4),
    "_fused_rms_norm_backward": _per_input(8),
    "native_batch_norm": _batch_norm(5),
    "_native_batch_norm_legit": _batch_norm(5),
    "_native_batch_norm_legit_functional": _batch_norm(5),
    "_native_batch_norm_legit_no_training": _bn_no_training,
    "batch_norm": _batch_norm(5),
    "_batch_norm_with_update": _batch_norm(None),
    "_batch_norm_no_update": _bn_no_training,
    "_batch_norm_impl_index": _batch_norm(5),
    "cudnn_batch_norm": _batch_norm(5),
    "miopen_batch_norm": _batch_norm(5),
    "native_batch_norm_backward": _per_input(10, 1),
    "batch_norm_backward": _per_input(10, 1),
    "cudnn_batch_norm_backward": _per_input(10, 1),
    "miopen_batch_norm_backward": _per_input(10, 1),
    "instance_norm": _per_input(7),
    # softmax family
    "_softmax": _per_input(5),
    "_log_softmax": _per_input(5),
    "_safe_softmax": _per_input(5),
    "softmax": _per_input(5),
    "log_softmax": _per_input(5),
    "_softmax_backward_data": _per_input(4),
    "_log_softmax_backward_data": _per_input(4),
    "logsumexp": _per_input(3),
    # losses
    "nll_loss_forward": _per_input(1, 1),
    "nll_loss2d_forward": _per_input(1, 1),
    "nll_loss_backward": _per_input(1, 2),
    "nll_loss2d_backward": _per_input(1, 2),
    "nll_loss_nd": _per_input(1, 1),
    "mse_loss": _per_input(3),
    "mse_loss_backward": _per_input(3, 1),
    "l1_loss": _per_input(3),
    "smooth_l1_loss": _per_input(4),
    "smooth_l1_loss_backward": _per_input(3, 1),
    "huber_loss": _per_input(4),
    "huber_loss_backward": _per_input(3, 1),
    "binary_cross_entropy": _per_input(6),
    "binary_cross_entropy_backward": _per_input(5, 1),
    "binary_cross_entropy_with_logits": _per_input(8),
    "soft_margin_loss": _per_input(4),
    # pooling
    "max_pool1d": _pool(1, 1),
    "max_pool2d": _pool(1, 2),
    "max_pool3d": _pool(1, 3),
    "max_pool2d_with_indices": _pool(1, 2),
    "max_pool3d_with_indices": _pool(1, 3),
    "mkldnn_max_pool2d": _pool(1, 2),
    "avg_pool1d": _pool(1, 1),
    "avg_pool2d": _pool(1, 2),
    "avg_pool3d": _pool(1, 3),
    "max_pool2d_with_indices_backward": _per_input(1),
    "max_pool3d_with_indices_backward": _per_input(1),
    "max_pool2d_backward": _per_input(1),
    "avg_pool2d_backward": _per_input(1, 1),
    "avg_pool3d_backward": _per_input(1, 1),
    "adaptive_avg_pool1d": _per_input(1),
    "adaptive_avg_pool2d": _per_input(1),
    "adaptive_avg_pool3d": _per_input(1),
    "_adaptive_avg_pool2d": _per_input(1),
    "_adaptive_avg_pool3d": _per_input(1),
    "adaptive_max_pool2d": _per_input(1),
    "adaptive_max_pool3d": _per_input(1),
    "_adaptive_avg_pool2d_backward": _per_input(1, 1),
    "_adaptive_avg_pool3d_backward": _per_input(1, 1),
    "adaptive_max_pool2d_backward": _per_input(1),
    "adaptive_max_pool3d_backward": _per_input(1),
    "mean": _per_input(1),
    # interpolation
    "upsample_bilinear2d": _interp(2),
    "_upsample_bilinear2d_aa": _interp(2),
    "upsample_linear1d": _interp(2),
    "upsample_trilinear3d": _interp(2),
    "upsample_bicubic2d": _interp(4),
    "_upsample_bicubic2d_aa": _interp(4),
    "upsample_bilinear2d_backward": _interp_backward(2),
    "upsample_linear1d_backward": _interp_backward(2),
    "upsample_trilinear3d_backward": _interp_backward(2),
    "upsample_bicubic2d_backward": _interp_backward(4),
    "upsample_nearest1d_backward": _per_input(1),
    "upsample_nearest2d_backward": _per_input(1),
    "upsample_nearest3d_backward": _per_input(1),
    "_upsample_nearest_exact1d_backward": _per_input(1),
    "_upsample_nearest_exact2d_backward": _per_input(1),
    "_upsample_nearest_exact3d_backward": _per_input(1),
    "grid_sampler_2d": _interp(2),
    "grid_sampler_2d_backward": _interp_backward(2),
    # sparse accumulation
    "embedding_dense_backward": _per_input(1),
    "embedding_backward": _per_input(1),
    "_embedding_bag": _embedding_bag,
    "embedding_bag": _embedding_bag,
    "_embedding_bag_backward": _per_input(1),
    "_embedding_bag_dense_backward": _per_input(1),
    "index_add": _index_add_like(3),
    "index_add_": _index_add_like(3),
    "scatter_add": _index_add_like(3),
    "scatter_add_": _index_add_like(3),
    "scatter_reduce": _index_add_like(3),
    "scatter_reduce_": _index_add_like(3),
    "index_reduce": _index_add_like(3),
    "index_put": _index_put,
    "index_put_": _index_put,
    "_index_put_impl_": _index_put,
    "_unsafe_index_put": _index_put,
    "cumsum": _per_input(1),
    "cumsum_": _per_input(1),
    "cumprod": _per_input(1),
    "_cdist_forward": _per_output(3),
    "native_dropout": _per_input(2),
    "native_dropout_backward": _per_input(1),
    "dropout": _per_input(2),
    "feature_dropout": _per_input(2),
    "alpha_dropout": _per_input(2),
    "linalg_vector_norm": _per_input(2),
    "norm": _per_input(2),
    "frobenius_norm": _per_input(2),
    "var": _per_input(3),
    "var_mean": _per_input(3),
    "std": _per_input(3),
    "std_mean": _per_input(3),
    "_fused_dropout": _per_input(2),
    "_masked_scale": _per_input(1),
    "_amp_foreach_non_finite_check_and_unscale_": _per_input(2),
    "_amp_update_scale_": _per_input(1),
}

for _name, _per in _FUSED_OPTIMIZER_COST.items():
    _OTHER_TABLE[_name] = _fused_optimizer(_per)
    _OTHER_TABLE[_name + "_"] = _fused_optimizer(_per)

_TORCHVISION_OTHER: dict[str, Formula] = {
    "roi_align": _roi_align,
    "_roi_align_backward": _roi_align_backward,
    "ps_roi_align": _roi_align,
    "_ps_roi_align_backward": _roi_align_backward,
    "roi_pool": _per_output(4),
    "_roi_pool_backward": _per_input(1),
    "ps_roi_pool": _per_output(4),
    "deform_conv2d": _conv_generic(0, 1),
}

# Zero arithmetic by definition: data movement, views, factories, selection, metadata.
ZERO_COST_NAMES: frozenset[str] = _words(
    """
    _to_copy copy copy_ clone contiguous cat stack hstack vstack concat concatenate _unsafe_view view
    reshape _reshape_alias expand expand_as repeat repeat_interleave tile flip roll rot90
    constant_pad_nd pad reflection_pad1d reflection_pad2d reflection_pad3d replication_pad1d
    replication_pad2d replication_pad3d reflection_pad1d_backward reflection_pad2d_backward
    replication_pad2d_backward circular_pad2d
    index_select gather scatter scatter_ index _unsafe_index masked_select masked_scatter
    masked_scatter_ take put put_ nonzero nonzero_static argwhere where_ select_scatter slice_scatter
    diagonal_scatter as_strided_scatter index_fill index_fill_ index_copy index_copy_
    select_backward slice_backward diagonal_backward unfold_backward as_strided_copy
    index_select_backward gather_backward col2im im2col pixel_shuffle pixel_unshuffle
    channel_shuffle native_channel_shuffle
    empty empty_like empty_strided empty_permuted new_empty new_empty_strided zeros zeros_like
    new_zeros ones ones_like new_ones full full_like new_full fill fill_ zero_ scalar_tensor
    arange linspace logspace eye tril_indices triu_indices rand rand_like randn randn_like
    randint randint_like randperm normal normal_ uniform_ bernoulli bernoulli_ random_
    exponential_ multinomial _efficientzerotensor lift lift_fresh lift_fresh_copy
    detach detach_ alias set_ resize_ resize_as_ _resize_output_ _local_scalar_dense item
    is_nonzero equal allclose _assert_async _assert_scalar _functional_assert_async
    _functional_assert_scalar sym_constrain_range sym_constrain_range_for_size
    _assert_tensor_metadata _print record_stream _pin_memory pin_memory is_pinned
    embedding sort argsort topk kthvalue msort unique _unique _unique2 unique_dim
    unique_consecutive searchsorted bucketize bincount histc triu tril triu_ tril_
    _pack_padded_sequence _pad_packed_sequence _pad_packed_sequence_backward
    _pack_padded_sequence_backward _cudnn_rnn_flatten_weight _cudnn_init_dropout_state
    _nested_tensor_from_mask _nested_tensor_from_mask_left_aligned _nested_from_padded
    _nested_tensor_size _nested_tensor_strides to_padded_tensor _nested_from_padded_and_nested_example
    _nested_get_values _nested_view_from_buffer _nested_view_from_jagged
    _transformer_encoder_layer_fwd_mask_check _masked_softmax_mask_type
    clamp_max_ one_hot _to_dense to_dense to_sparse _coalesce coalesce
    _has_compatible_shallow_copy_type _has_same_storage_numel _cudnn_rnn_flatten_weight
    sym_size sym_stride sym_numel sym_storage_offset size stride numel dim is_contiguous
    is_strides_like_format is_non_overlapping_and_dense storage_offset
    split split_with_sizes unsafe_split unsafe_split_with_sizes unbind chunk unsafe_chunk
    tensor_split narrow narrow_copy select slice t transpose permute squeeze unsqueeze
    flatten unflatten view_as view_as_real view_as_complex movedim moveaxis swapaxes
    diagonal diag_embed as_strided unfold _unsafe_view
    nms _nms batched_nms upsample_nearest1d upsample_nearest2d upsample_nearest3d
    _upsample_nearest_exact1d _upsample_nearest_exact2d _upsample_nearest_exact3d
    """
)


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
    import sys

    if "torchvision" not in sys.modules:
        return
    _tv_resolved = True
    for name, f in _TORCHVISION_OTHER.items():
        p = _packet(name, "torchvision")
        if p is not None:
            (MAC_FORMULAS if name == "deform_conv2d" else OTHER_FORMULAS)[p] = f
    for name in ("nms",):
        p = _packet(name, "torchvision")
        if p is not None:
            ZERO_COST.add(p)


# --------------------------------------------------------------------------------------------
# Classification of one op
# --------------------------------------------------------------------------------------------

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
_UNTAGGED_POINTWISE = _words(
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
    """The cost rule of an OpOverload (cached)."""
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
        r = OpRule("other", _foreach(name))
    else:
        tags = set(getattr(func, "tags", ()) or ())
        if _TAG_POINTWISE in tags or _pointwise_family(name):
            r = OpRule("other", _pointwise(name), inplace=_is_inplace(func, name, tags))
        elif _TAG_REDUCTION in tags:
            r = OpRule("other", _per_input(1))
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

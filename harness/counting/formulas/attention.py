"""Scaled-dot-product attention kernels and the fused transformer fast paths."""

from __future__ import annotations

from collections.abc import Sequence

from harness.counting.formulas.common import (
    Cost,
    Formula,
    FormulaOptions,
    arg,
    numel_of,
    prod,
    shape_of,
)


def attention_macs(q_shape: Sequence[int], k_shape: Sequence[int], v_shape: Sequence[int]) -> int:
    """QK^T + PV for (..., Lq, d) x (..., Lk, d) x (..., Lk, dv): the query's batch dims
    (batch x heads, GQA included) x Lq x Lk x (d + dv)."""
    lq, d = q_shape[-2], q_shape[-1]
    lk, dv = k_shape[-2], v_shape[-1]
    return prod(q_shape[:-2]) * lq * lk * (d + dv)


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
    base = prod(q_shape[:-2]) * lq * lk
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
    s = shape_of(t)
    return (s[0], s[2], s[1], s[3]) if len(s) == 4 else s


def _varlen_shapes(q, k, v, cum_q, cum_k, max_q, max_k):
    """Per-sequence (1, H, L, d) shapes of a varlen (nested) call, or an upper bound on meta."""
    _, h, d = shape_of(q)
    hk, dk = shape_of(k)[1], shape_of(k)[2]
    dv = shape_of(v)[2]
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
        is_causal = bool(arg(args, kwargs, causal_idx, causal_name, False)) if causal_idx else False
        return _causal(attention_macs(shape_of(q), shape_of(k), shape_of(v)), is_causal, opts)

    return f


def _sdpa_bhld_bwd(causal_idx: int, mask_idx: int | None = None) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        q, k, v = args[1], args[2], args[3]
        is_causal = bool(arg(args, kwargs, causal_idx, "is_causal", False))
        grads = (True, True, True)
        if mask_idx is not None:
            m = arg(args, kwargs, mask_idx, "grad_input_mask", None)
            if m is not None:
                grads = tuple(bool(x) for x in m[:3])
        macs = attention_backward_macs(
            shape_of(q), shape_of(k), shape_of(v), grads, opts.attention_recompute
        )
        return _causal(macs, is_causal, opts)

    return f


def _sdpa_math(args, kwargs, out, opts) -> Cost:
    """scaled_dot_product_attention / _math when they reach the dispatcher (inference mode)."""
    q, k, v = args[0], args[1], args[2]
    is_causal = bool(arg(args, kwargs, 5, "is_causal", False))
    return _causal(attention_macs(shape_of(q), shape_of(k), shape_of(v)), is_causal, opts)


def _flash_forward(args, kwargs, out, opts) -> Cost:
    """_flash_attention_forward: (B, L, H, d), or varlen (T, H, d) with cumulative lengths."""
    q, k, v = args[0], args[1], args[2]
    cum_q, cum_k = arg(args, kwargs, 3, "cum_seq_q"), arg(args, kwargs, 4, "cum_seq_k")
    is_causal = bool(arg(args, kwargs, 8, "is_causal", False))
    if cum_q is None:
        macs = attention_macs(_bhld(q), _bhld(k), _bhld(v))
    else:
        max_q, max_k = arg(args, kwargs, 5, "max_q"), arg(args, kwargs, 6, "max_k")
        macs = sum(attention_macs(*s) for s in _varlen_shapes(q, k, v, cum_q, cum_k, max_q, max_k))
    return _causal(macs, is_causal, opts)


def _flash_backward(args, kwargs, out, opts) -> Cost:
    q, k, v = args[1], args[2], args[3]
    cum_q, cum_k = arg(args, kwargs, 6, "cum_seq_q"), arg(args, kwargs, 7, "cum_seq_k")
    is_causal = bool(arg(args, kwargs, 11, "is_causal", False))
    rc = opts.attention_recompute
    if cum_q is None:
        macs = attention_backward_macs(_bhld(q), _bhld(k), _bhld(v), recompute=rc)
    else:
        max_q, max_k = arg(args, kwargs, 8, "max_q"), arg(args, kwargs, 9, "max_k")
        shapes = _varlen_shapes(q, k, v, cum_q, cum_k, max_q, max_k)
        macs = sum(attention_backward_macs(*s, recompute=rc) for s in shapes)
    return _causal(macs, is_causal, opts)


def _efficient_forward(args, kwargs, out, opts) -> Cost:
    """_efficient_attention_forward: (B, L, H, d); custom_mask_type 1/2 = causal."""
    q, k, v = args[0], args[1], args[2]
    cu_q, cu_k = arg(args, kwargs, 4, "cu_seqlens_q"), arg(args, kwargs, 5, "cu_seqlens_k")
    mask_type = int(arg(args, kwargs, 9, "custom_mask_type", 0) or 0)
    if cu_q is None:
        macs = attention_macs(_bhld(q), _bhld(k), _bhld(v))
    else:  # varlen: (1, T, H, d)
        max_q, max_k = arg(args, kwargs, 6, "max_seqlen_q"), arg(args, kwargs, 7, "max_seqlen_k")
        q3, k3, v3 = q[0], k[0], v[0]
        macs = sum(attention_macs(*s) for s in _varlen_shapes(q3, k3, v3, cu_q, cu_k, max_q, max_k))
    return _causal(macs, mask_type in (1, 2), opts)


def _efficient_backward(args, kwargs, out, opts) -> Cost:
    q, k, v = args[1], args[2], args[3]
    cu_q, cu_k = arg(args, kwargs, 6, "cu_seqlens_q"), arg(args, kwargs, 7, "cu_seqlens_k")
    mask_type = int(arg(args, kwargs, 14, "custom_mask_type", 0) or 0)
    rc = opts.attention_recompute
    if cu_q is None:
        macs = attention_backward_macs(_bhld(q), _bhld(k), _bhld(v), recompute=rc)
    else:
        max_q, max_k = arg(args, kwargs, 8, "max_seqlen_q"), arg(args, kwargs, 9, "max_seqlen_k")
        shapes = _varlen_shapes(q[0], k[0], v[0], cu_q, cu_k, max_q, max_k)
        macs = sum(attention_backward_macs(*s, recompute=rc) for s in shapes)
    return _causal(macs, mask_type in (1, 2), opts)


def _cudnn_attention_forward(args, kwargs, out, opts) -> Cost:
    """_cudnn_attention_forward: (B, H, L, d), or varlen (T, H, d) with cumulative lengths."""
    q, k, v = args[0], args[1], args[2]
    cum_q, cum_k = arg(args, kwargs, 4, "cum_seq_q"), arg(args, kwargs, 5, "cum_seq_k")
    is_causal = bool(arg(args, kwargs, 10, "is_causal", False))
    if cum_q is None or q.dim() == 4:
        macs = attention_macs(shape_of(q), shape_of(k), shape_of(v))
    else:
        max_q, max_k = arg(args, kwargs, 6, "max_q"), arg(args, kwargs, 7, "max_k")
        macs = sum(attention_macs(*s) for s in _varlen_shapes(q, k, v, cum_q, cum_k, max_q, max_k))
    return _causal(macs, is_causal, opts)


def _cudnn_attention_backward(args, kwargs, out, opts) -> Cost:
    q, k, v = args[1], args[2], args[3]
    cum_q, cum_k = arg(args, kwargs, 9, "cum_seq_q"), arg(args, kwargs, 10, "cum_seq_k")
    is_causal = bool(arg(args, kwargs, 14, "is_causal", False))
    rc = opts.attention_recompute
    if cum_q is None or q.dim() == 4 or cum_q.numel() == 0:
        macs = attention_backward_macs(shape_of(q), shape_of(k), shape_of(v), recompute=rc)
    else:
        max_q, max_k = arg(args, kwargs, 11, "max_q"), arg(args, kwargs, 12, "max_k")
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
    qs, ks = shape_of(q), shape_of(k)
    b = qs[0] if len(qs) == 3 else 1
    lq, lk, e = qs[-2], ks[-2], qs[-1]
    e_qkv = shape_of(qkv_w)[0] // 3
    proj = b * (lq * e * e_qkv + 2 * lk * e * e_qkv) + b * lq * numel_of(proj_w)
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
    per_token = numel_of(qkv_w) + numel_of(proj_w) + numel_of(ffn_w1) + numel_of(ffn_w2)
    e = shape_of(proj_w)[0]
    lengths = _sequence_lengths(src)
    macs = sum(n * per_token + n * n * 2 * e for n in lengths)
    return Cost(macs, sum(lengths) * (12 * e + 2 * shape_of(ffn_w1)[0]))


def _sequence_lengths(src) -> list[int]:
    if getattr(src, "is_nested", False):
        return [int(t.shape[0]) for t in src.unbind()]
    s = shape_of(src)
    if len(s) == 2:
        return [s[0]]
    return [s[1]] * s[0]


# ATen name -> formula
ATTENTION_FORMULAS: dict[str, Formula] = {
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
}

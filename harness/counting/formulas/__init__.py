"""Per-operator cost formulas for the FLOP counter (`harness.counting.counter.FlopCounter`).

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
- Bilinear forms (`_trilinear`, behind `nn.Bilinear`): the two pairwise products ATen
  evaluates, N*O*J*(I+1) MACs for `nn.Bilinear(I, J, O)`. `conv_tbc` is a convolution (T_out x
  B x K x C_in x C_out MACs). `cdist` with p = 2 is one MAC per (row, row, feature) term, its
  matmul path (`_euclidean_dist`) the matmul it runs; other p are 3 other FLOPs per term.
  FFTs are `other`: 5 N log2 N per complex transform of N points, half for real data (FFTW's
  convention). `kron` has no accumulation: one multiply (`other`) per output element.
- `other` FLOPs (optional column, never mixed into MACs): one FLOP per output element for every
  pointwise op (add, mul, relu, gelu, exp, ..., a convention: transcendental functions are not
  one instruction), with the exceptions in `POINTWISE_COST` (add with alpha = 2, addcmul = 3,
  lerp = 3); reductions one per input element; softmax 5, log-softmax 5 and their backwards 4
  per element; layer/group norm 7 per element forward (mean, subtract, square, sum, scale,
  affine multiply and add) and 10 backward; batch norm 7 in training, 4 in eval, 10 backward;
  pooling one per window element per output; data movement, views, factories and selection
  (cat, index, gather, topk, nms) cost 0 by definition and are listed in `ZERO_COST`.
- Optimizers: their steps are pointwise (and `_foreach_*` lists of pointwise ops), so they are
  costed with the same per-element table; fused optimizer kernels have documented per-element
  costs in `FUSED_OPTIMIZER_COST`.

An op that none of these rules covers is *uncounted*: the counter lists it with its call count.

One module per operator family (`matmul`, `products`, `conv`, `attention`, `rnn`, `layers`,
`spectral`, `pointwise`, `zero`); `rules` merges their tables and classifies an op, after the
formulas users register (`user`, `register_formula`). The public names are re-exported here.
"""

from __future__ import annotations

from harness.counting.formulas.attention import attention_backward_macs, attention_macs
from harness.counting.formulas.common import ZERO, Cost, Formula, FormulaOptions
from harness.counting.formulas.conv import conv_macs
from harness.counting.formulas.matmul import bmm_macs, einsum_macs, matmul_macs, mm_macs
from harness.counting.formulas.pointwise import (
    FUSED_OPTIMIZER_COST,
    POINTWISE_COST,
    pointwise_cost,
)
from harness.counting.formulas.rnn import rnn_macs_per_token
from harness.counting.formulas.rules import (
    MAC_FORMULAS,
    MATMUL_CLASS_HINT,
    OTHER_FORMULAS,
    ZERO_COST,
    OpRule,
    looks_matmul_class,
    op_name,
    rule_for,
)
from harness.counting.formulas.zero import ZERO_COST_NAMES

__all__ = [
    "FUSED_OPTIMIZER_COST",
    "MAC_FORMULAS",
    "MATMUL_CLASS_HINT",
    "OTHER_FORMULAS",
    "POINTWISE_COST",
    "ZERO",
    "ZERO_COST",
    "ZERO_COST_NAMES",
    "Cost",
    "Formula",
    "FormulaOptions",
    "OpRule",
    "attention_backward_macs",
    "attention_macs",
    "bmm_macs",
    "conv_macs",
    "einsum_macs",
    "looks_matmul_class",
    "matmul_macs",
    "mm_macs",
    "op_name",
    "pointwise_cost",
    "rnn_macs_per_token",
    "rule_for",
]

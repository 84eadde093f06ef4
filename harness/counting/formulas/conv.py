"""Convolutions, transposed and grouped, and their backward."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from harness.counting.formulas.common import Cost, Formula, first_tensor, numel_of, prod, shape_of


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
        n, positions = 1, prod(ref[1:])
    else:
        n, positions = ref[0], prod(ref[2:])
    return n * positions * prod(w_shape)


def conv_forward(
    x_idx: int, w_idx: int, transposed: bool = False, transposed_idx: int | None = None
) -> Formula:
    """A convolution op with input/weight at `x_idx`/`w_idx`; `transposed_idx` is the position
    of a `transposed` flag where the op has one."""

    def f(args, kwargs, out, opts) -> Cost:
        x, w = args[x_idx], args[w_idx]
        tr = bool(args[transposed_idx]) if transposed_idx is not None else transposed
        first = first_tensor(out)
        macs = conv_macs(shape_of(x), shape_of(w), shape_of(first), tr)
        has_bias = w_idx == 1 and len(args) > 2 and isinstance(args[2], torch.Tensor)
        return Cost(macs, numel_of(first) if has_bias else 0)

    return f


def conv_backward(grad_idx, x_idx, w_idx, transposed_idx, mask_idx) -> Formula:
    """Backward: one forward's MACs per gradient requested (input, weight); bias grad = adds."""

    def f(args, kwargs, out, opts) -> Cost:
        grad_out, x, w = args[grad_idx], args[x_idx], args[w_idx]
        tr = bool(args[transposed_idx]) if transposed_idx is not None else False
        mask = args[mask_idx]
        fwd = conv_macs(shape_of(x), shape_of(w), shape_of(grad_out), tr)
        macs = fwd * (int(bool(mask[0])) + int(bool(mask[1])))
        other = numel_of(grad_out) if len(mask) > 2 and mask[2] else 0
        return Cost(macs, other)

    return f


def _conv_tbc(args, kwargs, out, opts) -> Cost:
    """conv_tbc(x (T, B, C_in), weight (K, C_in, C_out), bias, pad): a 1-d convolution in
    time-batch-channel layout; every output (T_out, B, C_out) is a K x C_in dot product, plus one
    bias add. Its backward is composite (one addmm_ per tap for each of the two gradients)."""
    w = args[1]
    first = first_tensor(out)
    t_out, batch = shape_of(first)[:2]
    return Cost(t_out * batch * prod(shape_of(w)), numel_of(first))


# ATen name -> formula
CONV_FORMULAS: dict[str, Formula] = {
    "convolution": conv_forward(0, 1, transposed_idx=6),
    "_convolution": conv_forward(0, 1, transposed_idx=6),
    "convolution_overrideable": conv_forward(0, 1, transposed_idx=6),
    "conv1d": conv_forward(0, 1),
    "conv2d": conv_forward(0, 1),
    "conv3d": conv_forward(0, 1),
    "_convolution_mode": conv_forward(0, 1),
    "conv_transpose1d": conv_forward(0, 1, True),
    "conv_transpose2d": conv_forward(0, 1, True),
    "conv_transpose3d": conv_forward(0, 1, True),
    "cudnn_convolution": conv_forward(0, 1),
    "cudnn_convolution_transpose": conv_forward(0, 1, True),
    "cudnn_convolution_relu": conv_forward(0, 1),
    "cudnn_convolution_add_relu": conv_forward(0, 1),
    "mkldnn_convolution": conv_forward(0, 1),
    "miopen_convolution": conv_forward(0, 1),
    "miopen_depthwise_convolution": conv_forward(0, 1),
    "miopen_convolution_transpose": conv_forward(0, 1, True),
    "_mps_convolution": conv_forward(0, 1),
    "_mps_convolution_transpose": conv_forward(0, 1, True),
    "_slow_conv2d_forward": conv_forward(0, 1),
    "thnn_conv2d": conv_forward(0, 1),
    "slow_conv3d": conv_forward(0, 1),
    "slow_conv3d_forward": conv_forward(0, 1),
    "slow_conv_dilated2d": conv_forward(0, 1),
    "slow_conv_dilated3d": conv_forward(0, 1),
    "_conv_depthwise2d": conv_forward(0, 1),
    "conv_depthwise3d": conv_forward(0, 1),
    "_nnpack_spatial_convolution": conv_forward(0, 1),
    "slow_conv_transpose2d": conv_forward(0, 1, True),
    "slow_conv_transpose3d": conv_forward(0, 1, True),
    "conv_tbc": _conv_tbc,
    "convolution_backward": conv_backward(0, 1, 2, 7, 10),
    "convolution_backward_overrideable": conv_backward(0, 1, 2, 6, 9),
    "_slow_conv2d_backward": conv_backward(0, 1, 2, None, 6),
}

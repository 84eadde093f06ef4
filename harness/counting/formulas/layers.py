"""Non-matmul layers: normalisation, softmax, losses, pooling, interpolation, sparse updates."""

from __future__ import annotations

from harness.counting.formulas.common import (
    Cost,
    Formula,
    arg,
    first_tensor,
    numel_of,
    out_numel,
    prod,
    shape_of,
)
from harness.counting.formulas.conv import conv_forward
from harness.counting.formulas.pointwise import per_input, per_output


def _batch_norm(train_idx: int | None) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        training = (
            bool(args[train_idx]) if train_idx is not None and train_idx < len(args) else True
        )
        return Cost(0, (7 if training else 4) * numel_of(args[0]))

    return f


def _bn_no_training(args, kwargs, out, opts) -> Cost:
    return Cost(0, 4 * numel_of(args[0]))


def _pool(kernel_idx: int, spatial: int) -> Formula:
    """Max/avg pooling: one op per window element per output element."""

    def f(args, kwargs, out, opts) -> Cost:
        k = args[kernel_idx]
        k = list(k) if isinstance(k, (list, tuple)) else [int(k)]
        if len(k) == 1:
            k = k * spatial
        return Cost(0, out_numel(out) * prod(k))

    return f


def _interp(taps_per_dim: int) -> Formula:
    """Linear-family upsampling: (2 x taps - 1) FLOPs per output element."""

    def f(args, kwargs, out, opts) -> Cost:
        first = first_tensor(out)
        spatial = max(first.dim() - 2, 1)
        taps = taps_per_dim**spatial
        return Cost(0, numel_of(first) * (2 * taps - 1))

    return f


def _interp_backward(taps_per_dim: int) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        grad = args[0]
        spatial = max(grad.dim() - 2, 1)
        return Cost(0, numel_of(grad) * 2 * taps_per_dim**spatial)

    return f


def _index_add_like(src_idx: int) -> Formula:
    def f(args, kwargs, out, opts) -> Cost:
        return Cost(0, numel_of(args[src_idx]) if src_idx < len(args) else 0)

    return f


def _index_put(args, kwargs, out, opts) -> Cost:
    accumulate = bool(arg(args, kwargs, 3, "accumulate", False))
    return Cost(0, numel_of(args[2]) if accumulate else 0)


def _embedding_bag(args, kwargs, out, opts) -> Cost:
    weight, indices = args[0], args[1]
    mode = int(arg(args, kwargs, 4, "mode", 0))
    return Cost(0, 0 if mode == 2 else numel_of(indices) * shape_of(weight)[-1])


def _roi_align(args, kwargs, out, opts) -> Cost:
    """torchvision roi_align: 4 bilinear taps x samples per bin (adaptive -> 2x2 assumed)."""
    sampling = int(arg(args, kwargs, 5, "sampling_ratio", -1))
    samples = sampling * sampling if sampling > 0 else 4
    return Cost(0, out_numel(out) * samples * 8)


def _roi_align_backward(args, kwargs, out, opts) -> Cost:
    sampling = int(arg(args, kwargs, 9, "sampling_ratio", -1))
    samples = sampling * sampling if sampling > 0 else 4
    return Cost(0, numel_of(args[0]) * samples * 8)


# ATen name -> formula (`other` FLOPs)
LAYER_FORMULAS: dict[str, Formula] = {
    # normalisation
    "native_layer_norm": per_input(7),
    "layer_norm": per_input(7),
    "native_layer_norm_backward": per_input(10),
    "native_group_norm": per_input(7),
    "group_norm": per_input(7),
    "native_group_norm_backward": per_input(10),
    "_fused_rms_norm": per_input(4),
    "rms_norm": per_input(4),
    "_fused_rms_norm_backward": per_input(8),
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
    "native_batch_norm_backward": per_input(10, 1),
    "batch_norm_backward": per_input(10, 1),
    "cudnn_batch_norm_backward": per_input(10, 1),
    "miopen_batch_norm_backward": per_input(10, 1),
    "instance_norm": per_input(7),
    # softmax family
    "_softmax": per_input(5),
    "_log_softmax": per_input(5),
    "_safe_softmax": per_input(5),
    "softmax": per_input(5),
    "log_softmax": per_input(5),
    "_softmax_backward_data": per_input(4),
    "_log_softmax_backward_data": per_input(4),
    "logsumexp": per_input(3),
    # losses
    "nll_loss_forward": per_input(1, 1),
    "nll_loss2d_forward": per_input(1, 1),
    "nll_loss_backward": per_input(1, 2),
    "nll_loss2d_backward": per_input(1, 2),
    "nll_loss_nd": per_input(1, 1),
    "mse_loss": per_input(3),
    "mse_loss_backward": per_input(3, 1),
    "l1_loss": per_input(3),
    "smooth_l1_loss": per_input(4),
    "smooth_l1_loss_backward": per_input(3, 1),
    "huber_loss": per_input(4),
    "huber_loss_backward": per_input(3, 1),
    "binary_cross_entropy": per_input(6),
    "binary_cross_entropy_backward": per_input(5, 1),
    "binary_cross_entropy_with_logits": per_input(8),
    "soft_margin_loss": per_input(4),
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
    "max_pool2d_with_indices_backward": per_input(1),
    "max_pool3d_with_indices_backward": per_input(1),
    "max_pool2d_backward": per_input(1),
    "avg_pool2d_backward": per_input(1, 1),
    "avg_pool3d_backward": per_input(1, 1),
    "adaptive_avg_pool1d": per_input(1),
    "adaptive_avg_pool2d": per_input(1),
    "adaptive_avg_pool3d": per_input(1),
    "_adaptive_avg_pool2d": per_input(1),
    "_adaptive_avg_pool3d": per_input(1),
    "adaptive_max_pool2d": per_input(1),
    "adaptive_max_pool3d": per_input(1),
    "_adaptive_avg_pool2d_backward": per_input(1, 1),
    "_adaptive_avg_pool3d_backward": per_input(1, 1),
    "adaptive_max_pool2d_backward": per_input(1),
    "adaptive_max_pool3d_backward": per_input(1),
    "mean": per_input(1),
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
    "upsample_nearest1d_backward": per_input(1),
    "upsample_nearest2d_backward": per_input(1),
    "upsample_nearest3d_backward": per_input(1),
    "_upsample_nearest_exact1d_backward": per_input(1),
    "_upsample_nearest_exact2d_backward": per_input(1),
    "_upsample_nearest_exact3d_backward": per_input(1),
    "grid_sampler_2d": _interp(2),
    "grid_sampler_2d_backward": _interp_backward(2),
    # sparse accumulation
    "embedding_dense_backward": per_input(1),
    "embedding_backward": per_input(1),
    "_embedding_bag": _embedding_bag,
    "embedding_bag": _embedding_bag,
    "_embedding_bag_backward": per_input(1),
    "_embedding_bag_dense_backward": per_input(1),
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
    "cumsum": per_input(1),
    "cumsum_": per_input(1),
    "cumprod": per_input(1),
    "_cdist_forward": per_output(3),
    "native_dropout": per_input(2),
    "native_dropout_backward": per_input(1),
    "dropout": per_input(2),
    "feature_dropout": per_input(2),
    "alpha_dropout": per_input(2),
    "linalg_vector_norm": per_input(2),
    "norm": per_input(2),
    "frobenius_norm": per_input(2),
    "var": per_input(3),
    "var_mean": per_input(3),
    "std": per_input(3),
    "std_mean": per_input(3),
    "_fused_dropout": per_input(2),
    "_masked_scale": per_input(1),
    "_amp_foreach_non_finite_check_and_unscale_": per_input(2),
    "_amp_update_scale_": per_input(1),
}


# torchvision ops (registered when torchvision is imported); deform_conv2d counts MACs.
TORCHVISION_FORMULAS: dict[str, Formula] = {
    "roi_align": _roi_align,
    "_roi_align_backward": _roi_align_backward,
    "ps_roi_align": _roi_align,
    "_ps_roi_align_backward": _roi_align_backward,
    "roi_pool": per_output(4),
    "_roi_pool_backward": per_input(1),
    "ps_roi_pool": per_output(4),
    "deform_conv2d": conv_forward(0, 1),
}

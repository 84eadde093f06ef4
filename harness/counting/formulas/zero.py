"""Ops that cost nothing by definition: data movement, views, factories, selection, metadata."""

from __future__ import annotations

from harness.counting.formulas.common import words

ZERO_COST_NAMES: frozenset[str] = words(
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
    is_strides_like_format is_non_overlapping_and_dense storage_offset sym_is_contiguous
    is_same_size _nested_get_offsets _nested_get_lengths _nested_get_ragged_idx
    _nested_get_jagged_dummy _nested_get_min_seqlen _nested_get_max_seqlen
    _nested_tensor_from_tensor_list
    split split_with_sizes unsafe_split unsafe_split_with_sizes unbind chunk unsafe_chunk
    tensor_split narrow narrow_copy select slice t transpose permute squeeze unsqueeze
    flatten unflatten view_as view_as_real view_as_complex movedim moveaxis swapaxes
    diagonal diag_embed as_strided unfold _unsafe_view
    nms _nms batched_nms upsample_nearest1d upsample_nearest2d upsample_nearest3d
    _upsample_nearest_exact1d _upsample_nearest_exact2d _upsample_nearest_exact3d
    """
)

"""Recurrent kernels (LSTM, GRU, plain RNN) on every backend, and the fused cell steps."""

from __future__ import annotations

import torch

from harness.counting.formulas.common import Cost, Formula, numel_of, shape_of
from harness.counting.formulas.pointwise import per_input

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
    s = shape_of(x)
    if batch_sizes_given or len(s) < batched_dims:
        return s[0]
    return s[0] * s[1]


def _rnn_input(args, kwargs, out, opts) -> Cost:
    """aten.lstm/gru/rnn_tanh/rnn_relu .input: tokens x sum of weight-matrix sizes."""
    x, params = args[0], args[2]
    weights = sum(numel_of(p) for p in params if p.dim() == 2)
    return Cost(_rnn_tokens(x, False) * weights)


def _rnn_data(args, kwargs, out, opts) -> Cost:
    """The packed-sequence overloads (.data): data is (sum of lengths, input)."""
    data, params = args[0], args[3]
    weights = sum(numel_of(p) for p in params if p.dim() == 2)
    return Cost(shape_of(data)[0] * weights)


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
    per = rnn_macs_per_token(mode, shape_of(x)[-1], hidden, layers, bidirectional, proj)
    return Cost(_rnn_tokens(x, bool(batch_sizes)) * per)


def _cudnn_rnn_backward(args, kwargs, out, opts) -> Cost:
    """Data gradients (all layers, always: the weight gradients need them) + weight gradients."""
    x = args[0]
    mode, hidden, proj, layers = args[10], args[11], args[12], args[13]
    bidirectional, batch_sizes, mask = args[17], args[18], args[21]
    per = rnn_macs_per_token(mode, shape_of(x)[-1], hidden, layers, bidirectional, proj)
    fwd = _rnn_tokens(x, bool(batch_sizes)) * per
    return Cost(fwd * (1 + int(bool(mask[3]))))


def _miopen_rnn(args, kwargs, out, opts) -> Cost:
    x = args[0]
    mode, hidden, layers, bidirectional, batch_sizes = args[5], args[6], args[7], args[11], args[12]
    per = rnn_macs_per_token(mode, shape_of(x)[-1], hidden, layers, bidirectional)
    return Cost(_rnn_tokens(x, bool(batch_sizes)) * per)


def _miopen_rnn_backward(args, kwargs, out, opts) -> Cost:
    x = args[0]
    mode, hidden, layers = args[10], args[11], args[12]
    bidirectional, batch_sizes, mask = args[16], args[17], args[20]
    per = rnn_macs_per_token(mode, shape_of(x)[-1], hidden, layers, bidirectional)
    return Cost(_rnn_tokens(x, bool(batch_sizes)) * per * (1 + int(bool(mask[3]))))


def _mkldnn_rnn_layer(args, kwargs, out, opts) -> Cost:
    """One layer, one direction (oneDNN on CPU): tokens x (numel W_ih + numel W_hh)."""
    x, w_ih, w_hh = args[0], args[1], args[2]
    return Cost(_rnn_tokens(x, False) * (numel_of(w_ih) + numel_of(w_hh)))


def _mkldnn_rnn_layer_backward(args, kwargs, out, opts) -> Cost:
    """One layer and direction (oneDNN on CPU), costed as the gradients autograd needs, so
    that it agrees with the per-step matmuls counted on meta tensors:

    - weight gradients, tokens x (numel W_ih + numel W_hh), when the weights require grad;
    - the recurrent gradient through W_hh at every step but the first, (tokens - batch) x
      numel W_hh (all tokens when the initial state requires grad);
    - the input gradient, tokens x numel W_ih, only when the input requires grad (every layer
      above the first; the first only after, say, an embedding).

    mkldnn_rnn_layer_backward(input, w_ih, w_hh, b_ih, b_hh, hx (batch, H), cx, ...); the batch
    is read from hx (the input arrives time-major whatever its `batch_first` flag says).
    """
    x, w_ih, w_hh, hx = args[0], args[1], args[2], args[5]
    tokens = _rnn_tokens(x, False)
    batch = shape_of(hx)[-2] if hx.dim() >= 2 else 1
    n_ih, n_hh = numel_of(w_ih), numel_of(w_hh)
    weights = tokens * (n_ih + n_hh) if (w_ih.requires_grad or w_hh.requires_grad) else 0
    steps_back = tokens if getattr(hx, "requires_grad", False) else tokens - batch
    data = steps_back * n_hh + (tokens * n_ih if x.requires_grad else 0)
    return Cost(weights + data)


def _rnn_cell(args, kwargs, out, opts) -> Cost:
    """lstm_cell/gru_cell/rnn_*_cell(input, hx, w_ih, w_hh, ...): rows x weight sizes."""
    x, w_ih, w_hh = args[0], args[2], args[3]
    rows = shape_of(x)[0] if x.dim() == 2 else 1
    return Cost(rows * (numel_of(w_ih) + numel_of(w_hh)))


def _lstm_mps(args, kwargs, out, opts) -> Cost:
    return _rnn_input(args, kwargs, out, opts)


def _fused_lstm_cell(args, kwargs, out, opts) -> Cost:
    """Elementwise part of an LSTM step (gates come from mm): 21 FLOPs per hidden unit."""
    gates = args[0]
    return Cost(0, numel_of(gates) // 4 * 21)


def _fused_lstm_cell_backward(args, kwargs, out, opts) -> Cost:
    cx = args[2]
    return Cost(0, numel_of(cx) * 20)


def _fused_gru_cell(args, kwargs, out, opts) -> Cost:
    """Elementwise part of a GRU step: 16 FLOPs per hidden unit."""
    gates = args[0]
    return Cost(0, numel_of(gates) // 3 * 16)


def _fused_gru_cell_backward(args, kwargs, out, opts) -> Cost:
    grad = args[0]
    return Cost(0, numel_of(grad) * 20)


# ATen name -> formula (MACs)
RNN_FORMULAS: dict[str, Formula] = {
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


# Fused recurrent cells: elementwise (`other`); their gates come from counted matmuls.
RNN_CELL_FORMULAS: dict[str, Formula] = {
    "_thnn_fused_lstm_cell": _fused_lstm_cell,
    "_thnn_fused_lstm_cell_backward": _fused_lstm_cell_backward,
    "_thnn_fused_lstm_cell_backward_impl": _fused_lstm_cell_backward,
    "_thnn_differentiable_lstm_cell_backward": _fused_lstm_cell_backward,
    "_thnn_fused_gru_cell": _fused_gru_cell,
    "_thnn_fused_gru_cell_backward": _fused_gru_cell_backward,
    "_thnn_differentiable_gru_cell_backward": _fused_gru_cell_backward,
    "lstm_mps_backward": per_input(2, 1),
}

"""Pairwise distances (`cdist`) and fast Fourier transforms: formulas with their derivations."""

from __future__ import annotations

import math

from harness.counting.formulas.common import Cost, Formula, arg, first_tensor, prod, shape_of


def cdist_cost(x1_shape: tuple[int, ...], x2_shape: tuple[int, ...], p: float) -> Cost:
    """`_cdist_forward(x1 (.., P, M), x2 (.., R, M), p)`: every one of the B*P*R*M terms
    |x1 - x2|^p is one subtraction and one accumulation of a power.

    For p = 2 the power and the accumulation are one multiply-add of the difference with itself,
    so B*P*R*M MACs (the matmul-class work that cdist's own matmul path, `_euclidean_dist`,
    also does) plus B*P*R*M other FLOPs for the subtractions. For any other p there is no
    multiply-add to fuse: 3 other FLOPs per term (subtract, abs/power, add).
    """
    batch = prod(x1_shape[:-2]) if len(x1_shape) > 2 else 1
    terms = batch * x1_shape[-2] * x2_shape[-2] * x1_shape[-1]
    if float(p) == 2.0:
        return Cost(terms, terms)
    return Cost(0, 3 * terms)


def _cdist_forward(args, kwargs, out, opts) -> Cost:
    return cdist_cost(shape_of(args[0]), shape_of(args[1]), float(arg(args, kwargs, 2, "p")))


def _cdist_backward(args, kwargs, out, opts) -> Cost:
    """`_cdist_backward(grad, x1, x2, p, cdist)`: the gradient for x1 visits the same B*P*R*M
    terms once (the difference, scaled by grad / distance, accumulated over R): the forward's
    cost."""
    return cdist_cost(shape_of(args[1]), shape_of(args[2]), float(arg(args, kwargs, 3, "p")))


def _euclidean_dist(args, kwargs, out, opts) -> Cost:
    """`_euclidean_dist(x1 (.., P, M), x2 (.., R, M))`, cdist's p = 2 path for larger inputs:
    ATen appends the squared norms and a column of ones, [-2 x1, |x1|^2, 1] @ [x2, 1, |x2|^2]^T,
    so B*P*R*(M + 2) MACs; other FLOPs: -2 x1 (B*P*M), the squared norms (2 per element of x1
    and x2), and clamp and square root of the result (2 per element)."""
    s1, s2 = shape_of(args[0]), shape_of(args[1])
    batch = prod(s1[:-2]) if len(s1) > 2 else 1
    p, r, m = s1[-2], s2[-2], s1[-1]
    macs = batch * p * r * (m + 2)
    return Cost(macs, batch * (3 * p * m + 2 * r * m + 2 * p * r))


def fft_flops(signal: int, batch: int, real: bool) -> int:
    """5 N log2 N FLOPs per complex transform of N points, half that for real data.

    The radix-2 Cooley-Tukey count (N/2 log2 N butterflies of one complex multiply, 6 real
    FLOPs, and two complex adds, 4) that FFTW's benchmarks report for every size
    (fftw.org/speed/method.html); a real-input (or real-output) transform does half the work.
    A multi-dimensional transform of N = n1 x n2 x ... points costs the same 5 N log2 N (the sum
    of its one-dimensional passes). Rounded to an integer per call.
    """
    if signal <= 1:
        return 0
    per = 5 * signal * math.log2(signal) * (0.5 if real else 1.0)
    return round(batch * per)


def _fft(kind: str) -> Formula:
    """`_fft_r2c(x, dim, ..)`, `_fft_c2r(x, dim, .., last_dim_size)`, `_fft_c2c(x, dim, ..)`:
    the signal is the transformed dimensions of the real side (the input of r2c, the output of
    c2r) or of the input (c2c); every other dimension is a batch of transforms."""

    def f(args, kwargs, out, opts) -> Cost:
        x, dims = args[0], [int(d) for d in args[1]]
        full = shape_of(first_tensor(out)) if kind == "c2r" else shape_of(x)
        signal = prod([full[d] for d in dims])
        batch = prod(full) // max(signal, 1)
        return Cost(0, fft_flops(signal, batch, real=kind != "c2c"))

    return f


# ATen name -> formula
CDIST_FORMULAS: dict[str, Formula] = {
    "_cdist_forward": _cdist_forward,
    "_cdist_backward": _cdist_backward,
    "_euclidean_dist": _euclidean_dist,
}
FFT_FORMULAS: dict[str, Formula] = {
    "_fft_r2c": _fft("r2c"),
    "_fft_c2r": _fft("c2r"),
    "_fft_c2c": _fft("c2c"),
}

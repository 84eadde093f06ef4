"""Measure what deep learning costs: FLOPs, training-step time, energy, hardware burden, carbon
and dollars, and the scaling-law regression of Thompson et al. (2020)."""

from __future__ import annotations

__version__ = "0.1.0"

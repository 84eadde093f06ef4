"""Whether this machine has a CUDA device: one definition for every test module."""

from __future__ import annotations

import torch

HAS_CUDA = torch.cuda.is_available()

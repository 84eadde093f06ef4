"""The counting record: per-pass and training-step counts of one architecture."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from harness.counting.formulas import looks_matmul_class
from harness.errors import HarnessError

METHODS: tuple[str, ...] = ("meta", "fake", "real")
PHASES: tuple[str, ...] = ("inference", "forward", "backward", "optimizer")
DEFAULT_FVCORE_MAX_PARAMS = 200_000_000  # fvcore needs real weights: ~0.8 GB in fp32
DEFAULT_REAL_MAX_PARAMS = 1_000_000_000  # the last-resort CPU fallback allocates the model


class CountingError(HarnessError):
    """Counting failed on every method, or strict mode met an operator without a formula."""


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectionBreakdown:
    """Two-stage detectors: what does and does not depend on the data (per example).

    The backbone, FPN and RPN head cost the same for every image; the R-CNN box head runs once
    per surviving proposal and the mask/keypoint heads once per detection, and how many survive
    score thresholds and NMS depends on the weights and the image. `nominal_macs_per_example`
    is the count at the model's own budget (RPN post-NMS top-n in eval, detections_per_img).
    """

    data_independent_macs_per_example: float
    proposals_per_example: float  # rows the box head processed in this run
    proposal_budget: int
    per_proposal_macs: int
    detections_per_example: float  # rows the mask/keypoint heads processed in this run
    detection_budget: int
    per_detection_macs: int
    nominal_macs_per_example: float


@dataclass(frozen=True)
class FvcoreComparison:
    """fvcore's forward count beside ours, per example, by operator family.

    conv, matmul and attention are MACs on both sides; norm and other are our `other` FLOPs and
    fvcore's own per-element counts (different conventions, shown, never compared). The
    headline compares the matmul-class families in `compared`: those in which fvcore met no
    unsupported operator.
    """

    ours: dict[str, float]
    fvcore: dict[str, float]
    unsupported: dict[str, int]  # fvcore's unsupported operators ("aten::name" -> calls)
    compared: tuple[str, ...]
    ours_macs_per_example: float
    fvcore_macs_per_example: float

    @property
    def difference(self) -> float | None:
        """(fvcore - ours) / ours over the compared families; None when ours is zero."""
        if not self.ours_macs_per_example:
            return None
        return self.fvcore_macs_per_example / self.ours_macs_per_example - 1


@dataclass(frozen=True)
class FlopCount:
    """One architecture's counted compute. MACs: 1 fused multiply-add = 1; FLOPs = 2 x MACs.

    `forward_macs_per_example` is the paper's per-pass compute: the inference pass (eval mode,
    no_grad) at batch `batch_size`, divided by the batch. For one training step of the batch
    (`train=True`): `forward_flops` (train mode, loss included), `backward_flops` and
    `optimizer_flops` are counted separately and `train_step_flops` is their sum. Forward and
    backward FLOPs are 2 x matmul-class MACs; the optimizer's work is pointwise, costed per
    element (harness.counting.formulas). Non-matmul work of every phase is in `other_flops`.
    """

    architecture: str
    batch_size: int
    size: int | None
    size_kind: str
    tiny: bool
    train: bool
    method: str  # "meta", "fake" or "real"
    params: int
    trainable_params: int
    forward_macs: int  # inference pass, whole batch
    forward_macs_per_example: float
    forward_flops: int  # 2 x MACs of the counted forward (training forward when train=True)
    backward_flops: int | None
    optimizer_flops: int | None
    train_step_flops: int | None
    other_flops: dict[str, int]  # phase -> non-matmul FLOPs
    by_op: dict[str, dict[str, int]]  # phase -> op -> MACs
    by_module: dict[str, dict[str, int]]  # phase -> module path -> MACs (children included)
    uncounted: dict[str, int]  # op -> calls, over all phases
    causal: str  # "full" or "half": how is_causal attention was counted
    causal_attention_calls: int  # is_causal attention calls in the inference pass
    attention_backward: str  # "algorithmic" or "with-recompute"
    optimizer: str
    fvcore_forward_macs_per_example: float | None = None  # fvcore's conv+matmul+attention MACs
    fvcore_note: str | None = None
    fvcore: FvcoreComparison | None = None
    detection: DetectionBreakdown | None = None
    fallbacks: tuple[str, ...] = ()  # why earlier methods failed
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    torch_version: str = field(default_factory=lambda: torch.__version__)

    @property
    def forward_gmacs_per_example(self) -> float:
        return self.forward_macs_per_example / 1e9

    @property
    def backward_forward_ratio(self) -> float | None:
        if self.backward_flops is None or not self.forward_flops:
            return None
        return self.backward_flops / self.forward_flops

    @property
    def uncounted_matmul_class(self) -> dict[str, int]:
        return {k: v for k, v in self.uncounted.items() if looks_matmul_class(k)}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["forward_gmacs_per_example"] = self.forward_gmacs_per_example
        d["backward_forward_ratio"] = self.backward_forward_ratio
        d["fallbacks"] = list(self.fallbacks)
        d["notes"] = list(self.notes)
        return d

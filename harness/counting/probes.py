"""Detection probes: what a two-stage detector's heads cost per proposal and per detection."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch
from torch import nn

from harness.counting.counter import FlopCounter
from harness.counting.record import DetectionBreakdown

# --------------------------------------------------------------------------------------------
# Two-stage detectors
# --------------------------------------------------------------------------------------------


class RcnnProbe:
    """Records how many rows torchvision's R-CNN heads process (box / mask / keypoint)."""

    def __init__(self, model: nn.Module) -> None:
        roi = getattr(model, "roi_heads", None)
        rpn = getattr(model, "rpn", None)
        self.model = model
        self.active = roi is not None and rpn is not None and hasattr(roi, "box_head")
        self.rows: dict[str, int] = defaultdict(int)
        self.shapes: dict[str, tuple[int, ...]] = {}
        self._handles: list[Any] = []

    def __enter__(self) -> RcnnProbe:
        if not self.active:
            return self
        roi = self.model.roi_heads
        for branch in ("box", "mask", "keypoint"):
            head = getattr(roi, f"{branch}_head", None)
            if head is not None:
                self._handles.append(head.register_forward_pre_hook(self._hook(branch)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def _hook(self, branch: str):
        def fn(mod, inputs):
            x = inputs[0]
            self.rows[branch] += int(x.shape[0])
            self.shapes[branch] = tuple(int(s) for s in x.shape[1:])

        return fn

    def _per_row(self, branch: str, causal_half: bool, recompute: bool) -> int:
        roi = self.model.roi_heads
        head = getattr(roi, f"{branch}_head")
        predictor = getattr(roi, f"{branch}_predictor")
        shape = self.shapes.get(branch)
        if shape is None:
            return 0
        p = next(head.parameters())
        x = torch.zeros((1, *shape), dtype=p.dtype, device=p.device)
        c = FlopCounter(causal_half=causal_half, attention_recompute=recompute)
        with torch.no_grad(), c:
            predictor(head(x))
        return c.total_macs()

    def breakdown(
        self, counter: FlopCounter, batch: int, causal_half: bool, recompute: bool
    ) -> DetectionBreakdown:
        total = counter.total_macs("inference")
        roi_macs = counter.by_module("inference").get("roi_heads", 0)
        per_prop = self._per_row("box", causal_half, recompute)
        per_det = sum(
            self._per_row(b, causal_half, recompute)
            for b in ("mask", "keypoint")
            if getattr(self.model.roi_heads, f"{b}_head", None) is not None
        )
        was_training = self.model.training
        self.model.eval()
        budget = int(self.model.rpn.post_nms_top_n())
        self.model.train(was_training)
        det_budget = int(getattr(self.model.roi_heads, "detections_per_img", 0))
        independent = (total - roi_macs) / batch
        det_rows = max(self.rows.get("mask", 0), self.rows.get("keypoint", 0))
        return DetectionBreakdown(
            data_independent_macs_per_example=independent,
            proposals_per_example=self.rows.get("box", 0) / batch,
            proposal_budget=budget,
            per_proposal_macs=per_prop,
            detections_per_example=det_rows / batch,
            detection_budget=det_budget if per_det else 0,
            per_detection_macs=per_det,
            nominal_macs_per_example=independent + per_prop * budget + per_det * det_budget,
        )

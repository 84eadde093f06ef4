"""Detectors at batch > 1: one image counted and scaled equals the whole batch counted."""

from __future__ import annotations

import pytest

import harness.counting.count as count_module
from harness.counting.count import count_flops


def _whole_batch(monkeypatch, name: str, batch: int):
    with monkeypatch.context() as m:
        m.setattr(count_module, "is_per_image_detector", lambda arch: False)
        return count_flops(name, batch_size=batch, tiny=True, train=True)


def _check(monkeypatch, name: str, batch: int) -> None:
    scaled = count_flops(name, batch_size=batch, tiny=True, train=True)
    assert any("counted on one image and scaled" in n for n in scaled.notes)
    whole = _whole_batch(monkeypatch, name, batch)
    assert not any("scaled" in n for n in whole.notes)
    assert scaled.batch_size == whole.batch_size == batch
    assert scaled.forward_macs == whole.forward_macs
    assert scaled.forward_flops == whole.forward_flops
    assert scaled.backward_flops == whole.backward_flops
    assert scaled.optimizer_flops == whole.optimizer_flops  # not scaled: one step
    assert scaled.train_step_flops == whole.train_step_flops
    one = count_flops(name, batch_size=1, tiny=True, train=True)
    assert scaled.forward_macs == batch * one.forward_macs


def test_ssd_counted_on_one_image_equals_the_batch(monkeypatch):
    _check(monkeypatch, "ssd300_vgg16", 3)


@pytest.mark.slow
def test_faster_rcnn_counted_on_one_image_equals_the_batch(monkeypatch):
    _check(monkeypatch, "fasterrcnn_mobilenet_v3_large_320_fpn", 2)


def test_a_detector_that_cannot_run_one_image_is_counted_whole():
    # RetinaNet v2's GroupNorm sees one value per group on the tiny 1x1 map at batch 1
    r = count_flops("retinanet_resnet50_fpn_v2", batch_size=2, tiny=True)
    assert r.batch_size == 2 and not any("scaled" in n for n in r.notes)

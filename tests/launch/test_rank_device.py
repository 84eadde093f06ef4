"""Each torchrun rank's GPU is LOCAL_RANK modulo the devices it can see: a launcher that shows
every process one GPU (CUDA_VISIBLE_DEVICES per task) leaves each rank a single cuda:0."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from harness.errors import DeviceUnavailableError
from harness.launch import rank
from harness.pipeline.config import MeasurementConfig


def visible(n: int) -> SimpleNamespace:
    return SimpleNamespace(device_count=lambda: n)


@pytest.mark.parametrize(
    ("local_rank", "count", "expected"),
    [(0, 8, ("cuda:0", 0)), (5, 8, ("cuda:5", 5)), (3, 1, ("cuda:0", 0)), (5, 2, ("cuda:1", 1))],
)
def test_rank_device_is_local_rank_modulo_visible_devices(local_rank, count, expected):
    assert rank.rank_device("cuda", local_rank, visible(count)) == expected


def test_cpu_ranks_and_ranks_without_a_visible_gpu():
    assert rank.rank_device("cpu", 7, visible(0)) == ("cpu", None)
    with pytest.raises(DeviceUnavailableError, match="CUDA_VISIBLE_DEVICES"):
        rank.rank_device("cuda", 0, visible(0))


def test_measure_rank_binds_local_rank_3_to_the_one_visible_gpu(monkeypatch):
    """LOCAL_RANK=3 under CUDA_VISIBLE_DEVICES=3: the rank's device is cuda:0, not cuda:3."""
    bound: list[int] = []

    class Stop(Exception):
        pass

    def stop(*a, **k):
        raise Stop

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", bound.append)
    monkeypatch.setattr(torch.distributed, "init_process_group", stop)
    config = MeasurementConfig("resnet18", device="cuda", world_size=4)
    with pytest.raises(Stop):
        rank.measure_rank(config, rank=3, world=4, local_rank=3, backend="gloo")
    assert bound == [0]

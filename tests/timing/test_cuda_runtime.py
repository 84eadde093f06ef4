"""The CUDA runtime acts on the measured device only (a fake torch.cuda records the device
context each call ran in; there is no GPU here)."""

from __future__ import annotations

import contextlib

import torch

from harness.timing.runtime import CudaRuntime


class DeviceContexts:
    """torch.cuda.device and empty_cache: which device was current when the cache was emptied."""

    def __init__(self) -> None:
        self.current: list[torch.device] = []
        self.emptied_on: list[torch.device | None] = []

    @contextlib.contextmanager
    def device(self, dev):
        self.current.append(torch.device(dev))
        try:
            yield
        finally:
            self.current.pop()

    def empty_cache(self) -> None:
        self.emptied_on.append(self.current[-1] if self.current else None)


def test_release_cache_empties_the_measured_devices_cache_not_cuda_0(monkeypatch):
    fake = DeviceContexts()
    monkeypatch.setattr(torch.cuda, "device", fake.device)
    monkeypatch.setattr(torch.cuda, "empty_cache", fake.empty_cache)
    CudaRuntime(torch.device("cuda:3")).release_cache()
    assert fake.emptied_on == [torch.device("cuda:3")] and fake.current == []

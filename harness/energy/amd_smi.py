"""AMD GPUs under ROCm through amdsmi (`harness.hardware.amd_smi` holds the library calls).

Energy of a window is the GPU's energy accumulator differenced (`amdsmi_get_energy_count`,
accumulator x resolution in microjoules); the timeline is socket power
(`amdsmi_get_power_info`). The HIP device is matched to amdsmi's GPU by the same mapping as
NVIDIA's (PCI bus id, else UUID, else a safe index, else refused). Without amdsmi the source
cannot open and the window is `unavailable` with the reason.

`lib` can be injected (a stand-in module in the tests), so this code runs without a GPU.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from typing import Any

from harness.energy.measurement import PowerSample
from harness.energy.sources import PowerSource, SourceUnavailable, works
from harness.hardware import amd_smi, identity
from harness.vocab import AMDSMI_COUNTER, AMDSMI_SAMPLED


class AmdSmiSource(PowerSource):
    backend = "amdsmi"
    counter_provenance = AMDSMI_COUNTER
    sampled_provenance = AMDSMI_SAMPLED

    def __init__(self, hip_indices: Sequence[int] = (0,), *, lib: Any = None, cuda: Any = None):
        try:
            self.lib = amd_smi.start(lib)
        except amd_smi.AmdSmiUnavailable as exc:
            raise SourceUnavailable(f"{exc}: no GPU energy") from None
        try:
            locator = amd_smi.AmdSmiLocator(self.lib)
        except Exception as exc:
            amd_smi.stop(self.lib)
            raise SourceUnavailable(f"amdsmi lists no GPUs ({exc}): no GPU energy") from None
        self._indices = tuple(hip_indices)
        self._handles: dict[str, Any] = {}
        self._counter: dict[str, bool] = {}
        self.identity_basis: dict[str, str] = {}
        notes: list[str] = []
        for i in hip_indices:
            dev = f"cuda:{i}"  # torch names HIP devices cuda:N
            props, count = identity.cuda_facts(cuda, i)
            found = identity.identify(locator, i, props, count)
            if not found.found:
                amd_smi.stop(self.lib)
                raise SourceUnavailable(f"{dev}: {found.reason}: no GPU energy")
            self._handles[dev] = found.handle
            self.identity_basis[dev] = found.basis
            self._counter[dev] = works(lambda h=found.handle: amd_smi.energy_mj(self.lib, h))
            if not self._counter[dev]:
                notes.append(f"{dev}: no amdsmi energy counter; energy from integrated samples")
        self.devices = tuple(self._handles)
        self.notes = tuple(notes)

    def read(self, device: str, t_s: float, *, extras: bool = True) -> PowerSample:
        h = self._handles[device]
        counter = amd_smi.energy_mj(self.lib, h) if self._counter[device] else None
        return PowerSample(
            t_s=t_s,
            device=device,
            power_w=amd_smi.power_w(self.lib, h),
            counter_mj=counter,
        )

    def synchronize(self) -> None:
        torch = sys.modules.get("torch")  # never import torch (or start HIP) just for this
        if torch is not None and torch.cuda.is_initialized():
            for i in self._indices:  # the measured devices only
                torch.cuda.synchronize(i)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            amd_smi.stop(self.lib)

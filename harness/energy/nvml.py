"""NVIDIA GPUs through NVML (the `pynvml` module of nvidia-ml-py).

Energy of a window comes from `nvmlDeviceGetTotalEnergyConsumption` (mJ since the driver
loaded, Volta and newer) differenced over the window. The timeline comes from instant power,
`nvmlDeviceGetFieldValues(NVML_FI_DEV_POWER_INSTANT)`, because `nvmlDeviceGetPowerUsage` is a
trailing ~1 s average on recent GPUs; it is the fallback where the field is not supported.
SM clock, temperature and utilisation ride along in the timeline. Any NVML error while
sampling (a GPU falling off the bus) ends sampling and turns the window `unavailable`.

`nvml` can be injected (a stand-in module in the tests), so this code runs without a GPU.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from harness.energy.measurement import PowerSample
from harness.energy.sources import PowerSource, SourceError, SourceUnavailable, works
from harness.hardware.nvml import (
    NvmlUnavailable,
    clock_state,
    error_text,
    identify_cuda_device,
    start,
    text,
)
from harness.vocab import NVML_COUNTER, NVML_SAMPLED

_VALUE_FIELDS = {
    0: "dVal",
    1: "uiVal",
    2: "ulVal",
    3: "ullVal",
    4: "sllVal",
    5: "siVal",
    6: "usVal",
}


class NvmlSource(PowerSource):
    backend = "nvml"
    counter_provenance = NVML_COUNTER
    sampled_provenance = NVML_SAMPLED

    def __init__(
        self,
        cuda_indices: Sequence[int] = (0,),
        *,
        nvml: ModuleType | Any = None,
        cuda: Any = None,
    ):
        try:
            nvml = start(nvml)
        except NvmlUnavailable as exc:
            why = "no GPU energy" if "not installed" in str(exc) else "no NVIDIA driver or GPU"
            raise SourceUnavailable(f"{exc}: {why}") from None
        self.nvml = nvml
        try:
            nvml.nvmlDeviceGetCount()
        except Exception as exc:
            raise SourceUnavailable(f"NVML lists no GPUs ({error_text(exc)})") from None
        self._handles: dict[str, Any] = {}
        self._counter: dict[str, bool] = {}
        self._instant: dict[str, bool] = {}
        self._cuda_indices = tuple(cuda_indices)
        self.names: dict[str, str] = {}
        self.identity_basis: dict[str, str] = {}  # how each device was matched (pci|uuid|index)
        notes: list[str] = []
        for i in cuda_indices:
            dev = f"cuda:{i}"
            h = self._open(i, cuda, notes)
            self._handles[dev] = h
            self._counter[dev] = works(lambda h=h: nvml.nvmlDeviceGetTotalEnergyConsumption(h))
            self._instant[dev] = works(lambda h=h: self._instant_mw(h))
            if not self._counter[dev]:
                notes.append(
                    f"{dev}: no energy counter (pre-Volta?); energy from integrated samples"
                )
            if not self._instant[dev]:
                notes.append(
                    f"{dev}: no instant power field; sampling nvmlDeviceGetPowerUsage, a ~1 s "
                    "trailing average on recent GPUs"
                )
        self.devices = tuple(self._handles)
        self.notes = tuple(notes)

    def _open(self, i: int, cuda: Any, notes: list[str]) -> Any:
        """NVML's handle of cuda:i through the one device mapping; refused rather than guessed."""
        dev = f"cuda:{i}"
        found = identify_cuda_device(self.nvml, i, cuda)
        if not found.found:
            raise SourceUnavailable(f"{dev}: {found.reason}: no GPU energy")
        try:
            name = text(self.nvml.nvmlDeviceGetName(found.handle))
        except Exception as exc:
            raise SourceUnavailable(f"NVML cannot open {dev} ({error_text(exc)})") from None
        if found.mig:
            raise SourceUnavailable(
                f"{dev} is a MIG slice of {name}: NVML's energy counter and power cover the whole "
                "GPU, every slice's work included, so none of it is this slice's"
            )
        self.names[dev] = name
        self.identity_basis[dev] = found.basis
        if found.basis == "index":
            notes.append(f"{dev}: NVML GPU chosen by index (torch gives no PCI bus id or UUID)")
        return found.handle

    def _instant_mw(self, handle: Any) -> float:
        (v,) = self.nvml.nvmlDeviceGetFieldValues(handle, [self.nvml.NVML_FI_DEV_POWER_INSTANT])
        if v.nvmlReturn != 0:
            raise SourceError(f"NVML_FI_DEV_POWER_INSTANT returned error {v.nvmlReturn}")
        return float(getattr(v.value, _VALUE_FIELDS.get(v.valueType, "uiVal")))

    def read(self, device: str, t_s: float, *, extras: bool = True) -> PowerSample:
        nvml, h = self.nvml, self._handles[device]
        mw = self._instant_mw(h) if self._instant[device] else nvml.nvmlDeviceGetPowerUsage(h)
        counter = nvml.nvmlDeviceGetTotalEnergyConsumption(h) if self._counter[device] else None
        clock = temp = util = None
        if extras:  # best effort: some boards report none of these
            clock = _maybe(lambda: nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM))
            temp = _maybe(lambda: nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU))
            util = _maybe(lambda: nvml.nvmlDeviceGetUtilizationRates(h).gpu)
        return PowerSample(
            t_s=t_s,
            device=device,
            power_w=float(mw) / 1e3,
            counter_mj=float(counter) if counter is not None else None,
            sm_clock_mhz=clock,
            temperature_c=temp,
            utilization_pct=util,
        )

    def state(self, device: str) -> dict[str, Any]:
        return clock_state(self.nvml, self._handles[device])

    def synchronize(self) -> None:
        torch = sys.modules.get("torch")  # never import torch (or start CUDA) just for this
        if torch is not None and torch.cuda.is_initialized():
            for i in self._cuda_indices:  # the measured devices only: no context on cuda:0
                torch.cuda.synchronize(i)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.nvml.nvmlShutdown()


def _maybe(fn: Any) -> float | None:
    try:
        return float(fn())
    except Exception:
        return None

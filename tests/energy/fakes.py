"""Stand-ins shared by the energy tests: trace data, a window runner, pynvml, codecarbon's tracker.

Traces under tests/data are synthetic with known integrals; `FakeNvml` answers the pynvml calls
the NVML backend makes from such a trace, so the real backend runs without a GPU.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from harness.energy import EnergyMeasurement, NvmlSource, ReplaySource, SampledEnergyMonitor

DATA = Path(__file__).resolve().parents[1] / "data"


def run_window(monitor, *, before: float, length: float, name: str = "w") -> EnergyMeasurement:
    monitor.start()
    monitor.clock.sleep(before)
    monitor.begin_window(name)
    monitor.clock.sleep(length)
    return monitor.end_window(name)


class NvmlError(Exception):
    def __init__(self, text: str):
        super().__init__(text)


FAKE_UUID = "GPU-6b5f0e1c-0000-4000-8000-00000000cafe"


class FakeCuda:
    """torch.cuda's view of the devices: properties (here without pci_* fields) and the count."""

    def __init__(self, *props):
        self.props = list(props) or [
            SimpleNamespace(name="NVIDIA H100 80GB HBM3", uuid=FAKE_UUID.removeprefix("GPU-"))
        ]

    def count(self):
        return len(self.props)

    def properties(self, i):
        return self.props[i]


class FakeNvml:
    """The pynvml calls the backend makes, answered from a trace at the virtual clock's time."""

    NVML_FI_DEV_POWER_INSTANT = 186
    NVML_CLOCK_SM = 1
    NVML_TEMPERATURE_GPU = 0
    NVMLError = NvmlError

    def __init__(
        self,
        trace,
        clock,
        *,
        lost_after=None,
        counter=True,
        instant=True,
        init_error=False,
        clock_events=lambda t: 0,
        temperature=lambda t: 55,
        count=1,
    ):
        self.source = ReplaySource(trace)
        self.clock = clock
        self.lost_after = lost_after
        self.counter = counter
        self.instant = instant
        self.init_error = init_error
        self.clock_events = clock_events  # virtual time -> the clock-event bitmask
        self.temperature = temperature  # virtual time -> degrees C
        self.count = count
        self.calls: list[str] = []

    def _now(self):
        t = self.clock.now()
        if self.lost_after is not None and t >= self.lost_after:
            raise NvmlError("GPU is lost")
        return self.source.read("cuda:0", t)

    def nvmlInit(self):
        if self.init_error:
            raise NvmlError("Driver Not Loaded")

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return self.count

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetHandleByUUID(self, uuid):
        if uuid != FAKE_UUID:
            raise NvmlError("Not Found")
        return 0

    def nvmlDeviceGetUUID(self, h):
        return FAKE_UUID

    def nvmlDeviceGetName(self, h):
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        if not self.counter:
            raise NvmlError("Not Supported")
        return int(round(self._now().counter_mj))

    def nvmlDeviceGetFieldValues(self, h, ids):
        assert ids == [self.NVML_FI_DEV_POWER_INSTANT]
        self.calls.append("instant")
        s = self._now()
        ret = 0 if self.instant else 3
        return [
            SimpleNamespace(
                nvmlReturn=ret,
                valueType=1,
                value=SimpleNamespace(uiVal=int(round(s.power_w * 1e3))),
            )
        ]

    def nvmlDeviceGetPowerUsage(self, h):
        self.calls.append("usage")
        return int(round(self._now().power_w * 1e3))

    def nvmlDeviceGetClockInfo(self, h, kind):
        self._now()
        return 1980

    def nvmlDeviceGetTemperature(self, h, sensor):
        self._now()
        return self.temperature(self.clock.now())

    def nvmlDeviceGetCurrentClocksEventReasons(self, h):
        self._now()
        return self.clock_events(self.clock.now())

    def nvmlDeviceGetUtilizationRates(self, h):
        self._now()
        return SimpleNamespace(gpu=97, memory=40)


def nvml_monitor(fake, clock, idle_s=0.0):
    return SampledEnergyMonitor(
        NvmlSource((0,), nvml=fake, cuda=FakeCuda()), clock=clock, idle_s=idle_s
    )


class FakeTracker:
    def __init__(self, fail_on=""):
        self.fail_on = fail_on

    def start_task(self, name):
        if self.fail_on == "start":
            raise RuntimeError("psutil exploded")

    def stop_task(self, name):
        if self.fail_on == "stop":
            raise RuntimeError("lost the task")
        return SimpleNamespace(
            cpu_energy=1e-6, ram_energy=2e-6, emissions=1e-6, duration=0.5, ram_power=20.0
        )

    def stop(self):
        pass

"""The cool-down before the idle baseline, on a fake clock and fake NVML temperatures."""

from __future__ import annotations

import pytest

from harness.energy import PowerTrace, VirtualClock
from harness.energy.cooldown import CooldownSettings, cool_down, cool_down_device
from harness.errors import ConfigurationError

from .fakes import DATA, FakeCuda, FakeNvml


class FakeTime:
    def __init__(self):
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self):
        return self.t

    def sleep(self, s):
        self.sleeps.append(s)
        self.t += s


def test_waits_until_the_gpu_is_at_the_target_temperature():
    temps = iter([75, 70, 60, 49, 30])
    clock = FakeTime()
    polled = []
    r = cool_down(
        lambda: next(temps),
        CooldownSettings(max_s=60, target_c=50, poll_s=1.0),
        now=clock.now,
        sleep=clock.sleep,
        on_poll=lambda t, c: polled.append((t, c)),
    )
    assert r.polls == 3 and clock.sleeps == [1.0, 1.0, 1.0] and r.waited_s == 3.0
    assert (r.start_temperature_c, r.end_temperature_c, r.reached) == (75, 49, True)
    assert polled == [(1.0, 70), (2.0, 60), (3.0, 49)]


def test_gives_up_after_the_longest_wait_and_says_the_baseline_was_warm():
    clock = FakeTime()
    r = cool_down(
        lambda: 80, CooldownSettings(max_s=2.5, poll_s=1.0), now=clock.now, sleep=clock.sleep
    )
    assert clock.sleeps == [1.0, 1.0, 0.5] and r.waited_s == 2.5 and r.reached is False
    assert "above the 50 C cool-down target" in r.note


def test_without_a_target_it_waits_the_fixed_time():
    clock = FakeTime()
    r = cool_down(
        lambda: 40,
        CooldownSettings(max_s=3, target_c=None),
        now=clock.now,
        sleep=clock.sleep,
    )
    assert r.waited_s == 3.0 and r.reached is None and r.end_temperature_c == 40


def test_cool_down_of_a_gpu_through_nvml_and_none_on_cpu():
    vclock = VirtualClock()
    temps = {0: 75, 1: 70, 2: 60, 3: 49}
    fake = FakeNvml(
        PowerTrace.read_csv(DATA / "power_constant_300w.csv"),
        vclock,
        temperature=lambda t: temps[min(int(t), 3)],
    )
    r = cool_down_device(
        "cuda:0",
        CooldownSettings(),
        nvml=fake,
        cuda=FakeCuda(),
        show_progress=False,
        now=vclock.now,
        sleep=vclock.sleep,
    )
    assert r.polls == 3 and r.end_temperature_c == 49 and r.device == "cuda:0"
    assert r.to_dict()["waited_s"] == pytest.approx(3.0)
    assert cool_down_device("cpu", CooldownSettings()) is None
    assert cool_down_device("cuda:0", CooldownSettings(max_s=0)) is None


def test_bad_cool_down_settings_are_one_line_errors():
    with pytest.raises(ConfigurationError, match="cool-down"):
        CooldownSettings(max_s=-1)
    with pytest.raises(ConfigurationError, match="cool-down temperature"):
        CooldownSettings(target_c=500)


def test_a_gpu_the_device_mapping_cannot_place_is_not_waited_for(monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")  # cuda:0 is not NVML's GPU 0 here
    vclock = VirtualClock()
    fake = FakeNvml(PowerTrace.read_csv(DATA / "power_constant_300w.csv"), vclock, count=4)
    stranger = FakeCuda(SimpleNamespace(name="NVIDIA H100 80GB HBM3", uuid="not-this-one"))
    slept = []
    r = cool_down_device(
        "cuda:0", CooldownSettings(), nvml=fake, cuda=stranger, show_progress=False,
        sleep=slept.append,
    )  # fmt: skip
    assert r.waited_s == 0.0 and slept == [] and r.note.startswith("no cool-down: ")


class CountingNvml(FakeNvml):
    """FakeNvml that counts the sessions opened and closed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.inits = self.shutdowns = 0

    def nvmlInit(self):
        self.inits += 1
        super().nvmlInit()

    def nvmlShutdown(self):
        self.shutdowns += 1


def test_nvml_is_shut_down_on_every_path(monkeypatch):
    from types import SimpleNamespace

    trace = PowerTrace.read_csv(DATA / "power_constant_300w.csv")
    stranger = FakeCuda(SimpleNamespace(name="NVIDIA H100 80GB HBM3", uuid="not-this-one"))
    cases = [("placed", FakeCuda(), None), ("not placed", stranger, "3")]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    for what, cuda, visible in cases:
        if visible is not None:
            monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
        vclock = VirtualClock()
        fake = CountingNvml(trace, vclock, count=4, temperature=lambda t: 40)
        r = cool_down_device(
            "cuda:0", CooldownSettings(), nvml=fake, cuda=cuda, show_progress=False,
            now=vclock.now, sleep=vclock.sleep,
        )  # fmt: skip
        assert (fake.inits, fake.shutdowns) == (1, 1), what
        assert (r.reached is True) == (what == "placed"), r.note

"""A cool-down before each configuration's idle baseline, so its energy does not depend on what
ran before it.

A GPU that has just finished a configuration is hot: its idle power is higher (leakage rises
with temperature) and it reaches its thermal limits sooner, so the idle baseline and the energy
per step of the next configuration would depend on the suite's order. Before the baseline the
harness waits until the GPU is at or below a temperature, for at most a set time (or, with no
temperature, for a fixed time), and records how long it waited and where the temperature ended.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from harness.errors import ConfigurationError

DEFAULT_COOLDOWN_MAX_S = 60.0
DEFAULT_COOLDOWN_TEMP_C = 50.0
DEFAULT_COOLDOWN_POLL_S = 1.0

Reader = Callable[[], "float | None"]


@dataclass(frozen=True)
class CooldownSettings:
    """Wait until the GPU is at or below `target_c`, for at most `max_s` seconds; with no
    `target_c`, wait `max_s` seconds. `max_s` 0 turns the cool-down off."""

    max_s: float = DEFAULT_COOLDOWN_MAX_S
    target_c: float | None = DEFAULT_COOLDOWN_TEMP_C
    poll_s: float = DEFAULT_COOLDOWN_POLL_S

    def __post_init__(self) -> None:
        if (
            not (isinstance(self.max_s, (int, float)) and math.isfinite(self.max_s))
            or self.max_s < 0
        ):
            raise ConfigurationError(f"cool-down must be >= 0 seconds, got {self.max_s!r}")
        if self.target_c is not None and not (
            isinstance(self.target_c, (int, float)) and 0 < self.target_c < 150
        ):
            raise ConfigurationError(
                f"cool-down temperature must be in (0, 150) degrees C, got {self.target_c!r}"
            )
        if not self.poll_s > 0:
            raise ConfigurationError(f"cool-down poll interval must be > 0 s, got {self.poll_s!r}")


@dataclass(frozen=True)
class CooldownResult:
    """What the cool-down did: how long, from and to which temperature, and why it stopped."""

    device: str
    waited_s: float
    polls: int
    start_temperature_c: float | None
    end_temperature_c: float | None
    target_c: float | None
    max_s: float
    reached: bool | None  # None: no temperature target (a fixed wait, or none)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cool_down(
    read_temperature: Reader,
    settings: CooldownSettings,
    *,
    device: str = "cuda:0",
    now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_poll: Callable[[float, float | None], None] | None = None,
) -> CooldownResult:
    """Poll the temperature every `poll_s` until it is at or below the target or `max_s` passed.

    `now`, `sleep` and `read_temperature` are injected so the loop runs on a fake clock in tests.
    """
    t0 = now()
    temp = start = read_temperature()
    target = settings.target_c
    if target is not None and temp is None:
        return CooldownResult(
            device, 0.0, 0, None, None, target, settings.max_s, None,
            "the GPU temperature cannot be read: no cool-down",
        )  # fmt: skip
    polls = 0
    while not (target is not None and temp is not None and temp <= target):
        left = settings.max_s - (now() - t0)
        if left <= 0:
            break
        sleep(min(settings.poll_s, left))
        polls += 1
        temp = read_temperature()
        if on_poll is not None:
            on_poll(now() - t0, temp)
    waited = now() - t0
    reached = None if target is None else temp is not None and temp <= target
    note = ""
    if reached is False:
        note = (
            f"still {temp:g} C after {waited:.0f} s, above the {target:g} C cool-down target: "
            "the idle baseline was taken warm"
        )
    return CooldownResult(device, waited, polls, start, temp, target, settings.max_s, reached, note)


def cool_down_device(
    device: str,
    settings: CooldownSettings | None,
    *,
    nvml: Any = None,
    cuda: Any = None,
    show_progress: bool = True,
    now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> CooldownResult | None:
    """The cool-down of `device` ("cuda:N") through NVML; None for a CPU or with it turned off.

    The GPU is found as the energy monitor finds it (PCI bus id, else UUID); `cuda` stands in for
    torch.cuda's device properties in tests.
    """
    from harness.energy.factory import parse_device
    from harness.hardware.nvml import error_text, identify_cuda_device, start, temperature_c

    kind, index = parse_device(device)
    if kind != "cuda" or settings is None or settings.max_s <= 0:
        return None
    try:
        lib = start(nvml)
    except Exception as exc:  # no driver, no library: measure without waiting
        return _not_cooled(index, settings, f"NVML unavailable ({error_text(exc)})")
    try:  # NVML is shut down on every path from here, the GPU found or not
        try:
            found = identify_cuda_device(lib, index, cuda)
        except Exception as exc:
            return _not_cooled(index, settings, f"NVML unavailable ({error_text(exc)})")
        if not found.found:
            return _not_cooled(index, settings, found.reason)
        handle = found.handle
        with _progress_bar(settings, show_progress) as on_poll:
            return cool_down(
                lambda: temperature_c(lib, handle),
                settings,
                device=f"cuda:{index}",
                now=now,
                sleep=sleep,
                on_poll=on_poll,
            )
    finally:
        with contextlib.suppress(Exception):
            lib.nvmlShutdown()


def _not_cooled(index: int, settings: CooldownSettings, why: str) -> CooldownResult:
    """No wait, saying why: the measurement goes on without a cool-down."""
    return CooldownResult(
        f"cuda:{index}", 0.0, 0, None, None, settings.target_c, settings.max_s, None,
        f"no cool-down: {why}",
    )  # fmt: skip


@contextlib.contextmanager
def _progress_bar(settings: CooldownSettings, show: bool):
    """A progress bar over the longest wait, showing the temperature (stderr, terminals only)."""
    if not show:
        yield None
        return
    from harness.console import progress

    target = f" to {settings.target_c:g} C" if settings.target_c is not None else ""
    bar = progress(total=round(settings.max_s), desc=f"cool-down{target}", unit="s", leave=False)
    done = [0]

    def on_poll(elapsed: float, temp: float | None) -> None:
        step = max(0, min(round(elapsed), bar.total) - done[0])
        bar.update(step)
        done[0] += step
        if temp is not None:
            bar.set_postfix_str(f"{temp:g} C")

    try:
        yield on_poll
    finally:
        bar.close()

"""CPU package energy from the kernel's RAPL counters under /sys/class/powercap.

Each top-level `intel-rapl:N` domain is a CPU package (the same driver serves recent AMD CPUs).
`energy_uj` is a cumulative counter that wraps at `max_energy_range_uj`; the monitor reads it
at every tick, so windows longer than one wrap (tens of minutes at full load) stay right.
Since CVE-2020-8694 the files are usually root-only, and most VMs have none: then this backend
is unavailable and the factory falls back to codecarbon's estimate, saying why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from harness.energy.measurement import PowerSample
from harness.energy.sources import PowerSource, SourceError, SourceUnavailable
from harness.vocab import RAPL

POWERCAP = Path("/sys/class/powercap")
_PACKAGE = re.compile(r"^intel-rapl:\d+$")


class RaplSource(PowerSource):
    backend = "rapl"
    counter_provenance = RAPL
    sampled_provenance = None  # RAPL has no instant power; the timeline shows counter rates

    def __init__(self, root: str | Path = POWERCAP):
        root = Path(root)
        domains = sorted(p for p in root.glob("intel-rapl:*") if _PACKAGE.match(p.name))
        if not domains:
            raise SourceUnavailable(f"no RAPL package domains under {root} (a VM, or no driver)")
        self._files: dict[str, Path] = {}
        self._wrap: dict[str, float | None] = {}
        for d in domains:
            name = _read(d / "name", default=d.name)
            dev = f"cpu:{name}" if f"cpu:{name}" not in self._files else f"cpu:{d.name}"
            energy = d / "energy_uj"
            try:
                int(energy.read_text())
            except PermissionError:
                raise SourceUnavailable(
                    f"{energy} is not readable (root-only since CVE-2020-8694); run as root "
                    "or make it readable to measure CPU energy"
                ) from None
            except (OSError, ValueError) as exc:
                raise SourceUnavailable(f"cannot read {energy}: {exc}") from None
            wrap = _read(d / "max_energy_range_uj", default="")
            self._files[dev] = energy
            self._wrap[dev] = int(wrap) / 1e3 if wrap.isdigit() else None
        self.devices = tuple(self._files)

    def counter_wrap_mj(self) -> Mapping[str, float | None]:
        return dict(self._wrap)

    def read(self, device: str, t_s: float, *, extras: bool = True) -> PowerSample:
        try:
            uj = int(self._files[device].read_text())
        except (OSError, ValueError) as exc:
            raise SourceError(f"cannot read {self._files[device]}: {exc}") from None
        return PowerSample(t_s=t_s, device=device, power_w=None, counter_mj=uj / 1e3)


def _read(path: Path, *, default: str) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return default

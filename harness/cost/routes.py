"""Carbon and dollars of a projected run by the two routes, side by side in the same units.

* Energy route: kWh x PUE x grid intensity for carbon; device-hours x an hourly price for
  dollars. A GPU is priced per GPU-hour and a CPU per CPU-hour (never a CPU at a GPU's rate).
* The paper's route: linear in hardware burden (Strubell et al. 2019, via Thompson et al.
  2020; `PaperConversion`).

Carbon is given in kg and lbs for both routes, so adjacent columns never mix units. Where the
two dollar figures differ by more than `DISAGREEMENT_FACTOR`, one line says why: the hourly
price charges for the time a device is held, the paper's conversion for the peak FLOPs it could
have done at P100-era cloud rates, and a CPU's low peak makes its burden (and so its paper cost)
small beside its hours.

These conversions are applied after a measurement, from the measured energy and hours; they
do not change what was measured, so a stored row is converted again for new settings instead
of being measured again (`reconvert`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.catalog.grid import GridIntensity, grid_intensity
from harness.cost.conversions import PaperConversion
from harness.errors import ConfigurationError
from harness.vocab import LBS_PER_KG

DEFAULT_USD_PER_DEVICE_HOUR = 2.0
# AWS EC2 On-Demand, us-east-1, Linux, c7i.4xlarge (16 vCPUs, 4th-gen Xeon): $0.714 per hour
# (https://aws.amazon.com/ec2/pricing/on-demand/, c7i.large at $0.08925 per hour x 8). One
# "CPU-hour" is one host CPU as a measurement uses it, held for an hour.
DEFAULT_USD_PER_CPU_HOUR = 0.714
CPU_PRICE_SOURCE = (
    "AWS EC2 on-demand c7i.4xlarge (16 vCPUs), us-east-1, Linux, "
    "aws.amazon.com/ec2/pricing/on-demand"
)
DISAGREEMENT_FACTOR = 10.0


@dataclass(frozen=True)
class CostSettings:
    """Conversions applied to a measurement: grid intensity, PUE, prices, the paper's route.

    `usd_per_cpu_hour` prices a CPU measurement (None: a CPU run is not priced in dollars by
    the hourly route); `usd_per_device_hour` prices an accelerator's hour."""

    grid: GridIntensity | str | float = "USA"
    pue: float = 1.0
    usd_per_device_hour: float = DEFAULT_USD_PER_DEVICE_HOUR
    price_source: str = ""
    paper: PaperConversion = field(default_factory=PaperConversion.strubell)
    usd_per_cpu_hour: float | None = DEFAULT_USD_PER_CPU_HOUR
    cpu_price_source: str = ""

    def check(self) -> None:
        if not (isinstance(self.pue, (int, float)) and self.pue >= 1.0 and self.pue < 1e9):
            raise ConfigurationError(f"PUE must be at least 1.0, got {self.pue}")
        if self.usd_per_device_hour < 0:
            raise ConfigurationError(
                f"price per device-hour must be >= 0, got {self.usd_per_device_hour}"
            )
        if self.usd_per_cpu_hour is not None and self.usd_per_cpu_hour < 0:
            raise ConfigurationError(
                f"price per CPU-hour must be >= 0, got {self.usd_per_cpu_hour}"
            )


@dataclass(frozen=True)
class HourlyPrice:
    """The price one device-hour of this run is charged at, and what it is."""

    usd_per_hour: float | None
    unit: str  # "CPU-hour" or "GPU-hour"
    source: str


def hourly_price(settings: CostSettings, device_kind: str) -> HourlyPrice:
    """A CPU is priced per CPU-hour, anything else per GPU-hour."""
    if device_kind == "cpu":
        price = settings.usd_per_cpu_hour
        if price is None:
            return HourlyPrice(None, "CPU-hour", "not priced: no CPU-hour price given")
        default = price == DEFAULT_USD_PER_CPU_HOUR
        source = settings.cpu_price_source or (
            f"${price:g} per CPU-hour ({CPU_PRICE_SOURCE})"
            if default
            else f"${price:g} per CPU-hour (--cpu-hour-price)"
        )
        return HourlyPrice(price, "CPU-hour", source)
    price = settings.usd_per_device_hour
    source = settings.price_source or f"${price:g} per GPU-hour (configurable)"
    return HourlyPrice(price, "GPU-hour", source)


def _times(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a * b


def disagreement(usd: float | None, low: float | None, high: float | None, unit: str) -> str:
    """One line when the hourly price and the paper's conversion differ by more than 10x."""
    if usd is None or low is None or high is None or usd <= 0 or low <= 0:
        return ""
    if usd > high * DISAGREEMENT_FACTOR:
        factor, more = usd / high, "hourly price"
    elif usd * DISAGREEMENT_FACTOR < low:
        factor, more = low / usd, "paper's conversion"
    else:
        return ""
    why = (
        "a CPU's low peak makes its hardware burden, and so the paper's figure, small"
        if unit == "CPU-hour"
        else "the paper's figure scales with the peak, the hourly one with the time held"
    )
    return (
        f"the two dollar routes differ by {factor:.3g}x (the {more} is higher): "
        f"{unit}s x price charges for the time the device is held; the paper's conversion "
        f"charges for peak FLOPs at P100-era cloud rates (Strubell et al. 2019); {why}"
    )


def cost_routes(
    kwh: float | None,
    device_hours: float | None,
    burden_flop: float | None,
    settings: CostSettings,
    device_kind: str,
) -> dict[str, Any]:
    """The carbon and dollar fields of a `Burden` (kg and lbs, both routes; price and basis)."""
    settings.check()
    grid, paper = grid_intensity(settings.grid), settings.paper
    co2_kg = kwh * settings.pue * grid.kg_co2_per_kwh if kwh is not None else None
    price = hourly_price(settings, device_kind)
    usd = _times(device_hours, price.usd_per_hour)
    low, high = paper.usd(burden_flop) if burden_flop is not None else (None, None)
    return {
        "pue": settings.pue,
        "grid": grid,
        "co2_kg_per_run": co2_kg,
        "co2_lbs_per_run": _times(co2_kg, LBS_PER_KG),
        "usd_per_device_hour": price.usd_per_hour,
        "price_unit": price.unit,
        "usd_per_run": usd,
        "price_source": price.source,
        "paper_co2_lbs_per_run": paper.co2_lbs(burden_flop) if burden_flop is not None else None,
        "paper_co2_kg_per_run": paper.co2_kg(burden_flop) if burden_flop is not None else None,
        "paper_usd_low_per_run": low,
        "paper_usd_high_per_run": high,
        "paper_basis": paper.basis,
        "cost_routes_note": disagreement(usd, low, high, price.unit),
    }


def reconvert(burden: dict[str, Any], settings: CostSettings, device_kind: str) -> dict[str, Any]:
    """A stored `burden` section with its carbon and dollars converted again for `settings`
    (from its measured kWh, device-hours and burden; nothing is measured again)."""
    if not burden:
        return burden
    fresh = cost_routes(
        burden.get("kwh_per_run"),
        burden.get("device_hours_per_run"),
        burden.get("burden_per_run_flop"),
        settings,
        device_kind,
    )
    fresh["grid"] = fresh["grid"].to_dict()
    return {**burden, **fresh}

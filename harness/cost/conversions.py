"""Carbon and dollars from hardware burden or from energy, each labelled with where it came from.

Two families of conversion, always shown side by side and never mixed:

* The paper's: Thompson et al. (2020) scale carbon and cost linearly in hardware burden from
  one published training run, Strubell, Ganesh and McCallum (2019), "Energy and Policy
  Considerations for Deep Learning in NLP", arXiv:1906.02243, Table 3: Transformer-big on
  8 x P100 for 84 h emitted 192 lbs CO2e and cost $289-$981 of cloud compute.
  Burden of that run = 8 x peak(P100) x 84 h; the P100's fp32 peak comes from the processor
  table (the PCIe part, 9.3 TFLOPS, since the form factor is not stated), giving about
  8.5e-9 lbs and 1.3e-8 to 4.4e-8 dollars per GFLOP of burden.
* Energy-based: kWh x PUE x grid intensity for carbon; device-hours x price for dollars.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.catalog.grid import GridIntensity
from harness.vocab import LBS_PER_KG

# Strubell et al. (2019), arXiv:1906.02243, Table 3 (Transformer big) and Sec. 2.
STRUBELL_CITATION = (
    "Strubell, Ganesh & McCallum 2019, arXiv:1906.02243, Table 3: Transformer (big), "
    "8 x P100, 84 h, 192 lbs CO2e, $289-$981 cloud compute"
)
STRUBELL_GPUS = 8
STRUBELL_HOURS = 84.0
STRUBELL_CO2_LBS = 192.0
STRUBELL_USD_LOW = 289.0
STRUBELL_USD_HIGH = 981.0
STRUBELL_PUE = 1.58  # Sec. 2, the 2018 Uptime Institute data-centre average
STRUBELL_LBS_PER_KWH = 0.954  # Sec. 2, U.S. EPA average
P100_FP32_FLOPS = 9.3e12  # P100 PCIe 16GB fp32 peak, harness/data/reference/processors.csv


@dataclass(frozen=True)
class PaperConversion:
    """The paper's linear conversion from hardware burden (FLOP) to carbon and dollars."""

    lbs_per_flop: float
    usd_low_per_flop: float
    usd_high_per_flop: float
    basis: str

    @classmethod
    def strubell(cls, p100_peak_flops: float = P100_FP32_FLOPS) -> PaperConversion:
        burden = STRUBELL_GPUS * p100_peak_flops * STRUBELL_HOURS * 3600.0
        return cls(
            lbs_per_flop=STRUBELL_CO2_LBS / burden,
            usd_low_per_flop=STRUBELL_USD_LOW / burden,
            usd_high_per_flop=STRUBELL_USD_HIGH / burden,
            basis=(
                f"linear in hardware burden from {STRUBELL_CITATION}; "
                f"burden of that run = 8 x {p100_peak_flops / 1e12:g} TFLOPS x 84 h "
                f"= {burden:.3g} FLOP (as in Thompson et al. 2020)"
            ),
        )

    def co2_lbs(self, burden_flop: float) -> float:
        return burden_flop * self.lbs_per_flop

    def co2_kg(self, burden_flop: float) -> float:
        return self.co2_lbs(burden_flop) / LBS_PER_KG

    def usd(self, burden_flop: float) -> tuple[float, float]:
        """(low, high) dollars."""
        return burden_flop * self.usd_low_per_flop, burden_flop * self.usd_high_per_flop


@dataclass(frozen=True)
class EnergyConversion:
    """Carbon from energy (kWh x PUE x grid intensity) and dollars from device-hours."""

    pue: float = 1.0
    kg_co2_per_kwh: float = STRUBELL_LBS_PER_KWH / LBS_PER_KG
    usd_per_device_hour: float = 2.0
    intensity_source: str = "U.S. average 0.954 lbs/kWh (Strubell et al. 2019, citing EPA)"
    price_source: str = "harness default: $2.00 per GPU-hour (set --price-per-gpu-hour)"

    def co2_kg(self, kwh: float) -> float:
        return kwh * self.pue * self.kg_co2_per_kwh

    def co2_lbs(self, kwh: float) -> float:
        return self.co2_kg(kwh) * LBS_PER_KG

    def usd(self, device_hours: float) -> float:
        return device_hours * self.usd_per_device_hour


def joules_to_kwh(joules: float) -> float:
    return joules / 3.6e6


def energy_conversion(
    grid: GridIntensity,
    *,
    pue: float = 1.0,
    usd_per_device_hour: float = 2.0,
    price_source: str = "",
) -> EnergyConversion:
    """kWh -> carbon and device-hours -> dollars at `grid`'s intensity."""
    return EnergyConversion(
        pue=pue,
        kg_co2_per_kwh=grid.kg_co2_per_kwh,
        usd_per_device_hour=usd_per_device_hour,
        intensity_source=grid.source,
        price_source=price_source or f"${usd_per_device_hour:g} per device-hour (configurable)",
    )


# Strubell et al. (2019), Sec. 2: U.S. average 0.954 lbs CO2e per kWh (EPA).
STRUBELL_US = GridIntensity(
    kg_co2_per_kwh=STRUBELL_LBS_PER_KWH / LBS_PER_KG,
    region="USA",
    source="U.S. average 0.954 lbs CO2e/kWh (Strubell et al. 2019, arXiv:1906.02243, Sec. 2, citing EPA)",
    year=2018,
)

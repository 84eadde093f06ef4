"""A stored measurement converted to carbon and dollars with the settings asked for now.

Country, PUE and prices are not part of a measurement's key (they change no measured figure),
so a row measured under one country is reused under another: its `burden` carbon and dollars
are computed again from the measured kWh, device-hours and hardware burden, and its config
says which settings the figures now use.
"""

from __future__ import annotations

from harness.cost.routes import CostSettings, reconvert
from harness.pipeline.config import CONVERSION_FIELDS, MeasurementConfig
from harness.pipeline.record import Measurement


def cost_settings(config: MeasurementConfig) -> CostSettings:
    """The conversions a configuration asks for."""
    return CostSettings(
        grid=config.country or "USA",
        pue=config.pue,
        usd_per_device_hour=config.price_per_gpu_hour,
        usd_per_cpu_hour=config.price_per_cpu_hour,
    )


def with_conversions(record: Measurement, config: MeasurementConfig) -> Measurement:
    """`record` with carbon and dollars converted for `config`'s country, PUE and prices."""
    wanted = {k: getattr(config, k) for k in CONVERSION_FIELDS}
    if all(record.config.get(k) == v for k, v in wanted.items()) and record.burden.get(
        "price_unit"
    ):
        return record
    kind = str(record.config.get("device", config.device)).split(":")[0]
    burden = reconvert(dict(record.burden), cost_settings(config), kind)
    return record.replace(config={**record.config, **wanted}, burden=burden)

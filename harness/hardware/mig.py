"""A device that is part of a processor-table row's chip: an NVIDIA MIG slice, or a cut-down part
(an MI250's GCD under the MI250X row). Its datasheet peak is the row's scaled by its share of the
streaming multiprocessors (compute units on AMD), because tensor throughput is per SM at a
given clock; where the table has no SM count, a slice gets no peak rather than the whole GPU's.

A MIG slice's name says so ("NVIDIA H100 80GB HBM3 MIG 1g.10gb"); NVIDIA's MIG user guide
(https://docs.nvidia.com/datacenter/tesla/mig-user-guide/) lists each profile's share of the
GPU's compute. Its NVML energy is the whole GPU's, which the energy source refuses separately.
"""

from __future__ import annotations

from typing import Any

from harness.hardware.identity import is_mig_name


def is_mig_slice(info: Any) -> bool:
    """The device is a MIG slice: recorded as such, or named as one."""
    return bool(getattr(info, "mig_slice", False)) or is_mig_name(getattr(info, "name", ""))


def sm_share(info: Any, spec: Any) -> tuple[float | None, str]:
    """(share of the row's peak this device has, why); share None: no peak can be given.

    `info` is a DeviceInfo (name, multiprocessors), `spec` the matched ProcessorSpec.
    """
    mine, full = getattr(info, "multiprocessors", None), spec.sms
    if is_mig_slice(info):
        if not (mine and full):
            what = (
                "its SM count is unknown"
                if not mine
                else f"processors.csv has no SM count for {spec.name}"
            )
            return (
                None,
                f"MIG slice of {spec.name} and {what}: no datasheet peak "
                "(the whole GPU's would overstate it)",
            )
        return (
            mine / full,
            f"MIG slice: {mine} of {full} SMs, so {mine}/{full} of the whole GPU's peak",
        )
    if mine and full and mine < full:
        return mine / full, f"{mine} of the row's {full} SMs/CUs: that share of its peak"
    return 1.0, ""

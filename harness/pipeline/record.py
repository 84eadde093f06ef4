"""The measurement record: one versioned schema for everything a sweep writes.

A `MeasurementConfig` says what to measure; its `key()` names the measurement (architecture,
configuration, the kind and model of device, harness version), so a rerun can tell what is
done. A `Measurement` is the record of one attempt: status, error, the configuration, the
architecture's summary, the environment it ran in, and one plain JSON-able section per stage
(`counts`, `timing`, `energy`, `burden`; empty when that stage did not run).

This module imports neither torch nor the registry at import time: a sweep's parent process
and its workers load it before anything heavy.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness import __version__
from harness.errors import HarnessError, one_line
from harness.pipeline.config import MeasurementConfig, _is_int
from harness.pipeline.schema import (
    SCHEMA_VERSION,
    ArchitectureView,
    BurdenView,
    CountsView,
    TimingView,
    upgrade,
)
from harness.vocab import STATUSES

SECTIONS: tuple[str, ...] = ("counts", "timing", "energy", "burden")


# --------------------------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Measurement:
    """The record of one measurement attempt (successful or not); see the module docstring."""

    key: str
    status: str
    config: dict[str, Any]
    architecture: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=dict)
    energy: dict[str, Any] = field(default_factory=dict)
    burden: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    created_at: str = field(default_factory=_now)
    harness_version: str = __version__
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"record status must be one of {STATUSES}, got {self.status!r}")
        if self.status == "ok" and self.error:
            raise ValueError("a record with status 'ok' carries no error")
        if self.status != "ok" and not self.error:
            raise ValueError(f"a record with status {self.status!r} needs an error message")
        if self.error is not None:
            object.__setattr__(self, "error", one_line(self.error))

    @classmethod
    def create(
        cls,
        config: MeasurementConfig,
        *,
        status: str = "ok",
        error: str | None = None,
        architecture: Mapping[str, Any] | None = None,
        environment: Mapping[str, Any] | None = None,
        counts: Mapping[str, Any] | None = None,
        timing: Mapping[str, Any] | None = None,
        energy: Mapping[str, Any] | None = None,
        burden: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> Measurement:
        """A record for `config`, its key computed from it; sections are made JSON-able."""
        return cls(
            key=key or config.key(),
            status=status,
            error=error,
            config=config.to_dict(),
            architecture=jsonable(dict(architecture or {"name": config.architecture})),
            environment=jsonable(dict(environment or {})),
            counts=jsonable(dict(counts or {})),
            timing=jsonable(dict(timing or {})),
            energy=jsonable(dict(energy or {})),
            burden=jsonable(dict(burden or {})),
        )

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    # Typed views of the sections (see `harness.pipeline.schema`).
    @property
    def counts_view(self) -> CountsView:
        return CountsView.of(self.counts)

    @property
    def timing_view(self) -> TimingView:
        return TimingView.of(self.timing)

    @property
    def burden_view(self) -> BurdenView:
        return BurdenView.of(self.burden)

    @property
    def architecture_view(self) -> ArchitectureView:
        return ArchitectureView.of(self.architecture)

    @property
    def measurement_config(self) -> MeasurementConfig:
        return MeasurementConfig.from_dict(self.config)

    def replace(self, **changes: Any) -> Measurement:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "schema_version": self.schema_version,
            "harness_version": self.harness_version,
            "created_at": self.created_at,
            "status": self.status,
            "error": self.error,
            "config": jsonable(self.config),
            "architecture": jsonable(self.architecture),
            "environment": jsonable(self.environment),
            **{s: jsonable(getattr(self, s)) for s in SECTIONS},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Measurement:
        """Read a record written by this or an older schema; a newer one is refused."""
        if not isinstance(d, Mapping):
            raise HarnessError(
                f"a measurement record must be a JSON object, got {type(d).__name__}"
            )
        version = d.get("schema_version", SCHEMA_VERSION)
        if not _is_int(version) or version > SCHEMA_VERSION:
            raise HarnessError(
                f"record {d.get('key')!r} has schema version {version!r}, newer than this "
                f"harness ({SCHEMA_VERSION}); upgrade the harness to read it"
            )
        d = upgrade(dict(d), version)
        missing = [k for k in ("key", "status", "config") if k not in d]
        if missing:
            raise HarnessError(f"measurement record lacks {', '.join(missing)}")
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            fields = {k: v for k, v in d.items() if k in names and (v is not None or k == "error")}
            return cls(**fields)
        except (TypeError, ValueError) as exc:
            raise HarnessError(f"malformed measurement record {d.get('key')!r}: {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> Measurement:
        return cls.from_dict(json.loads(text))

    def to_flat(self) -> dict[str, Any]:
        """One flat row for a DataFrame: nested sections become dotted columns
        (`config.batch_size`, `timing.median_s`); lists become JSON strings, so every value
        is a scalar and the row survives CSV and Parquet."""
        d = self.to_dict()
        row: dict[str, Any] = {}
        for k in ("key", "status", "error", "created_at", "schema_version", "harness_version"):
            row[k] = d[k]
        for section in ("config", "architecture", "environment", *SECTIONS):
            _flatten(d[section], section, row)
        return row


def _flatten(obj: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}", out)
    elif isinstance(obj, (list, tuple)):
        out[prefix] = json.dumps(obj)
    else:
        out[prefix] = obj


def jsonable(obj: Any) -> Any:
    """A copy of `obj` that json.dumps accepts: numpy and torch scalars become numbers,
    tuples lists, paths and other objects their string, dataclasses dicts, mapping keys str."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=str) if isinstance(obj, (set, frozenset)) else obj
        return [jsonable(v) for v in items]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        to_dict = getattr(obj, "to_dict", None)
        return jsonable(to_dict() if callable(to_dict) else dataclasses.asdict(obj))
    item = getattr(obj, "item", None)  # numpy / torch scalars
    if callable(item) and getattr(obj, "ndim", 0) == 0:
        try:
            return jsonable(item())
        except (TypeError, ValueError, RuntimeError):
            pass
    tolist = getattr(obj, "tolist", None)  # numpy arrays, tensors
    if callable(tolist):
        try:
            return jsonable(tolist())
        except (TypeError, ValueError, RuntimeError):
            pass
    return str(obj)

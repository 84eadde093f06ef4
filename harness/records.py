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

import contextlib
import dataclasses
import functools
import hashlib
import json
import math
import os
import platform
import re
import socket
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import __version__
from harness.errors import ConfigurationError, HarnessError
from harness.paths import REPO_ROOT

SCHEMA_VERSION = 1
STATUSES: tuple[str, ...] = ("ok", "error", "timeout", "crashed", "interrupted")
SECTIONS: tuple[str, ...] = ("counts", "timing", "energy", "burden")

# Kept in step with harness.precision.PRECISIONS (a test checks); not imported, so that
# loading a record does not import torch.
PRECISIONS: tuple[str, ...] = ("fp32", "tf32", "bf16", "fp16")
COMPILE_MODES: tuple[str, ...] = (
    "default",
    "reduce-overhead",
    "max-autotune",
    "max-autotune-no-cudagraphs",
)
_DEVICE_RE = re.compile(r"^(cpu|cuda(:\d+)?)$")

PhaseCallback = Callable[[str], None]


# --------------------------------------------------------------------------------------------
# What to measure
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasurementConfig:
    """One point of a sweep. Every field enters the key, so a change means a new measurement.

    `architecture` is a registered name or a `path/to/file.py:name` reference; `input_shape`
    and `vocab` are only for a file reference to a plain `() -> nn.Module` function (see
    `harness.registry.resolve`). `size` is the resolution or sequence length (None: the
    architecture's default). Energy settings (`country`, `pue`, `price_per_gpu_hour`) feed
    the conversions to carbon and dollars.
    """

    architecture: str
    batch_size: int = 1
    tiny: bool = False
    size: int | None = None
    device: str = "cpu"
    precision: str = "fp32"
    channels_last: bool = False
    compile_mode: str | None = None
    warmup_steps: int = 3
    min_steps: int = 10
    min_seconds: float = 1.0
    country: str | None = None
    pue: float = 1.0
    price_per_gpu_hour: float = 2.0
    seed: int = 0
    world_size: int = 1
    input_shape: tuple[int, ...] | None = None
    vocab: int | None = None

    def __post_init__(self) -> None:
        def bad(msg: str) -> ConfigurationError:
            return ConfigurationError(f"measurement of {self.architecture!r}: {msg}")

        if not isinstance(self.architecture, str) or not self.architecture.strip():
            raise ConfigurationError("a measurement needs an architecture name or file.py:name")
        for name in ("batch_size", "min_steps", "world_size"):
            v = getattr(self, name)
            if not _is_int(v) or v < 1:
                raise bad(f"{name} must be an integer of at least 1, got {v!r}")
        for name in ("warmup_steps", "seed"):
            v = getattr(self, name)
            if not _is_int(v) or v < 0:
                raise bad(f"{name} must be a non-negative integer, got {v!r}")
        if self.size is not None and (not _is_int(self.size) or self.size < 1):
            raise bad(f"size must be a positive integer or None, got {self.size!r}")
        if not _is_number(self.min_seconds) or self.min_seconds < 0:
            raise bad(f"min_seconds must be a non-negative number, got {self.min_seconds!r}")
        if not _is_number(self.pue) or self.pue < 1.0:
            raise bad(f"pue must be a number of at least 1.0, got {self.pue!r}")
        if not _is_number(self.price_per_gpu_hour) or self.price_per_gpu_hour < 0:
            raise bad(f"price_per_gpu_hour must be non-negative, got {self.price_per_gpu_hour!r}")
        if self.precision not in PRECISIONS:
            raise bad(f"unknown precision {self.precision!r}; use one of {', '.join(PRECISIONS)}")
        if not isinstance(self.device, str) or not _DEVICE_RE.match(self.device):
            raise bad(f"unknown device {self.device!r}; use cpu, cuda or cuda:N")
        if self.compile_mode is not None and self.compile_mode not in COMPILE_MODES:
            raise bad(
                f"unknown compile mode {self.compile_mode!r}; use one of {', '.join(COMPILE_MODES)}"
            )
        if not isinstance(self.tiny, bool) or not isinstance(self.channels_last, bool):
            raise bad("tiny and channels_last must be true or false")
        if self.input_shape is not None:
            shape = tuple(self.input_shape)
            if not shape or not all(_is_int(s) and s >= 1 for s in shape):
                raise bad(f"input_shape must be positive integers, got {self.input_shape!r}")
            object.__setattr__(self, "input_shape", shape)
        if self.vocab is not None and (not _is_int(self.vocab) or self.vocab < 1):
            raise bad(f"vocab must be a positive integer, got {self.vocab!r}")

    # -- identity -----------------------------------------------------------------------------

    @property
    def device_kind(self) -> str:
        return self.device.split(":")[0]

    def key(self) -> str:
        """Stable name of this measurement: a hash of the configuration, the architecture
        (for a file reference, its path and contents), the device's kind and model, and the
        harness version. The same configuration on another GPU model is another measurement."""
        ident = {
            "config": self.to_dict(),
            "architecture": _architecture_identity(self.architecture),
            "device": device_identity(self.device),
            "harness_version": __version__,
        }
        blob = json.dumps(ident, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def label(self) -> str:
        """A short human description for progress bars and logs."""
        parts = [self.architecture, f"bs={self.batch_size}", self.device, self.precision]
        if self.tiny:
            parts.append("tiny")
        if self.size is not None:
            parts.append(f"size={self.size}")
        if self.compile_mode:
            parts.append(f"compile={self.compile_mode}")
        if self.channels_last:
            parts.append("channels_last")
        if self.world_size > 1:
            parts.append(f"world={self.world_size}")
        return " ".join(parts)

    # -- conversion ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["input_shape"] is not None:
            d["input_shape"] = list(d["input_shape"])
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MeasurementConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigurationError(
                f"unknown measurement setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(names))}"
            )
        return cls(**dict(d))

    def replace(self, **changes: Any) -> MeasurementConfig:
        return dataclasses.replace(self, **changes)

    def resolve_architecture(self):  # -> harness.registry.Architecture (imports torch)
        """The Architecture this configuration names (registry name or file reference)."""
        from harness.registry import resolve

        return resolve(
            self.architecture,
            input_shape=self.input_shape,
            seq_len=self.size if self.vocab is not None else None,
            vocab=self.vocab,
        )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _architecture_identity(spec: str) -> dict[str, Any]:
    """A registered name as is; a file reference by absolute path and content hash."""
    path_str, sep, attr = spec.rpartition(":")
    if not (sep and path_str.endswith(".py") and attr):
        return {"name": spec}
    path = Path(path_str).expanduser()
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        digest = None
    return {"file": str(path.resolve()), "attr": attr, "sha256": digest}


# --------------------------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


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
        d = _upgrade(dict(d), version)
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


def _upgrade(d: dict[str, Any], version: int) -> dict[str, Any]:
    """Bring an older record to the current schema (version 1 is the first: nothing to do)."""
    d["schema_version"] = SCHEMA_VERSION
    return d


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


def one_line(message: str, limit: int = 500) -> str:
    """The first non-empty line of a message, shortened: errors in a table stay one row."""
    lines = [ln.strip() for ln in str(message).splitlines() if ln.strip()]
    text = lines[0] if lines else str(message).strip() or "unknown error"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        out = _run(["sysctl", "-n", "machdep.cpu.brand_string"])
        if out:
            return out
    return platform.processor() or platform.machine() or "unknown CPU"


@functools.lru_cache(maxsize=8)
def device_identity(device: str) -> str:
    """'kind/model' of a device, for the measurement key: `cpu/<model>` or `cuda/<GPU name>`.

    GPU names come from NVML when every GPU has the same name (no CUDA context is made in a
    sweep's parent), else from torch.cuda for the exact index.
    """
    kind, _, index = device.partition(":")
    if kind == "cpu":
        return f"cpu/{cpu_model()}"
    if kind == "cuda":
        names = _nvml_gpu_names()
        if names and len(set(names)) == 1:
            return f"cuda/{names[0]}"
        try:
            import torch

            if torch.cuda.is_available():
                return f"cuda/{torch.cuda.get_device_name(int(index or 0))}"
        except Exception:
            pass
        return "cuda/unknown"
    return kind


@functools.lru_cache(maxsize=1)
def _nvml_gpu_names() -> tuple[str, ...]:
    try:
        import pynvml
    except ImportError:
        return ()
    try:
        pynvml.nvmlInit()
    except Exception:
        return ()
    try:
        names = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            n = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i))
            names.append(n.decode() if isinstance(n, bytes) else str(n))
        return tuple(names)
    except Exception:
        return ()
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


@functools.lru_cache(maxsize=1)
def _nvml_driver() -> str | None:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return None
    try:
        v = pynvml.nvmlSystemGetDriverVersion()
        return v.decode() if isinstance(v, bytes) else str(v)
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def _run(cmd: list[str], cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def git_state(root: Path = REPO_ROOT) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the repository the harness runs from; (None, None) outside git."""
    if not (root / ".git").exists():
        return None, None
    commit = _run(["git", "rev-parse", "HEAD"], cwd=root)
    if commit is None:
        return None, None
    status = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root)
    return commit, (bool(status) if status is not None else None)


def _version(dist: str) -> str | None:
    from importlib import metadata  # not at import time: it costs a worker 0.1 s

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def capture_environment(device: str = "cpu") -> dict[str, Any]:
    """What changes a number, for every record: software versions, GPU and CPU, host, commit.

    Cheap (no CUDA kernels, no benchmarks); torch is imported, and CUDA queried only where
    this build of torch has CUDA and a device is visible.
    """
    commit, dirty = git_state()
    try:
        threads = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        threads = os.cpu_count()
    env: dict[str, Any] = {
        "harness_version": __version__,
        "device": device,
        "device_identity": device_identity(device),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "torchvision": _version("torchvision"),
        "transformers": _version("transformers"),
        "cuda": None,
        "cudnn": None,
        "driver": None,
        "gpu_name": None,
        "gpu_count": 0,
        "cpu_model": cpu_model(),
        "cpu_threads": threads,
        "torch_threads": None,
        "hostname": socket.gethostname(),
        "os": platform.platform(),
        "git_commit": commit,
        "git_dirty": dirty,
    }
    try:
        import torch
    except ImportError:
        return env
    env["torch"] = torch.__version__  # with its build tag (+cu130, +cpu)
    env["torch_threads"] = torch.get_num_threads()
    env["cuda"] = torch.version.cuda
    if torch.version.cuda is not None and torch.cuda.is_available():
        index = int(device.partition(":")[2] or 0) if device.startswith("cuda") else 0
        env["gpu_count"] = torch.cuda.device_count()
        env["gpu_name"] = device_identity(f"cuda:{index}").partition("/")[2]
        env["driver"] = _nvml_driver()
        try:
            env["cudnn"] = torch.backends.cudnn.version()
        except Exception:
            env["cudnn"] = None
    return env

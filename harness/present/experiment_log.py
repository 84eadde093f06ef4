"""`--log-to mlflow|wandb`: each measurement as a run of the experiment tracker people use.

Thin adapters: the configuration becomes the run's parameters, the headline figures
(`harness.pipeline.summary.headline`, numbers only, missing ones left out) its metrics, and
the key, status and energy provenance its tags, so an estimate is never logged unlabelled.

* MLflow (https://mlflow.org/docs/latest/tracking.html): a local file store, `./mlruns` by
  default (`MLFLOW_TRACKING_URI` or `--log-uri` points elsewhere); experiment "harness".
* Weights & Biases (https://docs.wandb.ai/ref/python/init): offline mode by default
  (`wandb sync` uploads later), files under `./wandb`; project "harness".

Both are optional extras (`pip install dl-cost-harness[mlflow]` / `[wandb]`); asking for one
that is not installed is a one-line error that says what to install.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.errors import ConfigurationError
from harness.pipeline.record import Measurement
from harness.pipeline.summary import headline

TRACKERS = ("mlflow", "wandb")
EXPERIMENT = "harness"


def run_params(record: Measurement) -> dict[str, Any]:
    """The configuration as scalar parameters (None and lists as text)."""
    out = {}
    for k, v in record.config.items():
        out[k] = v if isinstance(v, (bool, int, float, str)) else str(v)
    return out


def run_metrics(record: Measurement) -> dict[str, float]:
    """The record's headline figures that are finite numbers."""
    out = {}
    for k, v in headline(record).items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out[k] = float(v)
    return out


def run_tags(record: Measurement) -> dict[str, str]:
    h = headline(record)
    tags = {
        "harness.key": record.key,
        "harness.status": record.status,
        "harness.energy_provenance": str(h["energy_provenance"] or "unavailable"),
        "harness.version": record.harness_version,
    }
    if record.error:
        tags["harness.error"] = record.error[:500]
    return tags


def _run_name(record: Measurement) -> str:
    c = record.config
    return f"{c.get('architecture')} bs{c.get('batch_size')} {c.get('device')} {c.get('precision')}"


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ConfigurationError(
            f"--log-to {name}: {name} is not installed; pip install {name} "
            f"(or pip install 'dl-cost-harness[{name}]')"
        ) from None


def log_mlflow(records: Iterable[Measurement], uri: str | None = None) -> str:
    """One MLflow run per record; returns where they went."""
    mlflow = _import("mlflow")
    target = uri or os.environ.get("MLFLOW_TRACKING_URI") or Path("mlruns").resolve().as_uri()
    mlflow.set_tracking_uri(target)
    mlflow.set_experiment(EXPERIMENT)
    for r in records:
        with mlflow.start_run(run_name=_run_name(r)):
            mlflow.log_params(run_params(r))
            mlflow.log_metrics(run_metrics(r))
            mlflow.set_tags(run_tags(r))
    return target


def log_wandb(records: Iterable[Measurement], uri: str | None = None) -> str:
    """One W&B run per record, offline unless WANDB_MODE says otherwise; returns the folder."""
    wandb = _import("wandb")
    folder = uri or os.environ.get("WANDB_DIR") or str(Path.cwd())
    mode = os.environ.get("WANDB_MODE", "offline")
    for r in records:
        run = wandb.init(
            project=EXPERIMENT,
            name=_run_name(r),
            config=run_params(r),
            tags=[r.status, str(headline(r)["energy_provenance"] or "unavailable")],
            mode=mode,
            dir=folder,
            reinit=True,
        )
        try:
            run.log(run_metrics(r))
            run.summary.update({**run_metrics(r), **run_tags(r)})
        finally:
            run.finish()
    return f"{folder}/wandb ({mode})"


_LOGGERS: Mapping[str, Any] = {"mlflow": log_mlflow, "wandb": log_wandb}


def log_records(tracker: str, records: Iterable[Measurement], uri: str | None = None) -> str:
    """Log `records` to `tracker` (mlflow or wandb); returns a line saying where."""
    if tracker not in _LOGGERS:
        raise ConfigurationError(f"unknown --log-to {tracker!r}; use {' or '.join(TRACKERS)}")
    records = list(records)
    where = _LOGGERS[tracker](records, uri)
    return f"logged {len(records)} run{'s' if len(records) != 1 else ''} to {tracker}: {where}"

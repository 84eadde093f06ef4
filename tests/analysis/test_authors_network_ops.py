"""Network operations of measured points: counted train-step FLOP per example x the recipe's
epochs x examples per epoch, carried into the measured frame and fitted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.analysis.fit import fit
from harness.analysis.measured import measured_frame
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.pipeline.summary import measured_point


def _record(step_flops, batch, epochs, per_epoch):
    return Measurement.create(
        MeasurementConfig("x", batch_size=batch),
        architecture={
            "name": "x",
            "benchmark": "imagenet",
            "reference_value": 76.0,
            "recipe_epochs": epochs,
            "recipe_examples_per_epoch": per_epoch,
        },
        counts={"forward_macs_per_example": 4e9, "train_step_flops": step_flops},
        timing={"batch_size": batch},
    )


def test_measured_point_network_ops_is_step_per_example_times_the_run():
    p = measured_point(_record(3.6e12, 128, 90, 1_281_167))
    assert p["network_ops_flops"] == pytest.approx(3.6e12 / 128 * 90 * 1_281_167)
    assert measured_point(_record(3.6e12, 128, None, 1_281_167))["network_ops_flops"] is None


def test_measured_frame_keeps_network_ops_and_fits_it():
    rows = pd.DataFrame(
        {
            "benchmark": ["imagenet"] * 3,
            "model": ["a", "b", "c"],
            "error": [0.3, 0.25, 0.2],
            "per_pass_flops": [1e9, 2e9, 4e9],
            "burden_flops": [None, None, None],
            "network_ops_flops": [1e18, 1e19, 1e20],
        }
    )
    frame = measured_frame(rows)
    assert list(frame["network_ops_flops"]) == [1e18, 1e19, 1e20]
    f = fit(frame, "imagenet", "network-ops", "polynomial", label="measured")
    assert f.slope == pytest.approx(np.polyfit([18, 19, 20], np.log10(1 / rows["error"]), 1)[0])
    assert measured_frame(rows.drop(columns="network_ops_flops"))["network_ops_flops"].isna().all()

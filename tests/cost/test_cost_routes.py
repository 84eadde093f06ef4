"""A CPU is priced per CPU-hour, both routes give carbon in kg and lbs, and a > 10x gap between
the hourly price and the paper's conversion is explained in one line."""

from __future__ import annotations

import math

import pytest

from harness.arch.spec import TrainingRecipe
from harness.cost.burden import CostSettings, MeasuredStep, PeakUsed, compute_burden
from harness.cost.conversions import PaperConversion
from harness.cost.routes import DEFAULT_USD_PER_CPU_HOUR, disagreement
from harness.vocab import LBS_PER_KG

RECIPE = TrainingRecipe(epochs=90, examples_per_epoch=1_281_167, batch_size=32)
STEPS = math.ceil(90 * 1_281_167 / 32)


def _cpu_run(**settings) -> object:
    # a CPU step of 2 s at a 100 GFLOP/s fp32 peak: 90 ImageNet epochs are ~2,000 CPU-hours
    step = MeasuredStep(step_time_s=2.0, batch_size=32, device_kind="cpu")
    peak = PeakUsed(flop_per_s=1e11, source="test CPU", precision="fp32", device_name="cpu")
    return compute_burden(step, peak, recipe=RECIPE, settings=CostSettings(**settings))


def test_a_cpu_is_priced_per_cpu_hour_not_at_the_gpu_price():
    b = _cpu_run(usd_per_device_hour=2.0)
    hours = STEPS * 2.0 / 3600
    assert b.device_hours_per_run == pytest.approx(hours)
    assert b.price_unit == "CPU-hour"
    assert b.usd_per_run == pytest.approx(hours * DEFAULT_USD_PER_CPU_HOUR)
    assert b.usd_per_run != pytest.approx(hours * 2.0)
    assert "aws.amazon.com/ec2/pricing" in b.price_source


def test_cpu_hour_price_is_configurable_or_not_priced():
    assert _cpu_run(usd_per_cpu_hour=0.1).usd_per_run == pytest.approx(STEPS * 2.0 / 3600 * 0.1)
    unpriced = _cpu_run(usd_per_cpu_hour=None)
    assert unpriced.usd_per_run is None and "not priced" in unpriced.price_source


def test_a_gpu_keeps_the_gpu_hour_price():
    step = MeasuredStep(step_time_s=0.1, batch_size=32, device_kind="cuda")
    peak = PeakUsed(flop_per_s=1e14, precision="bf16", device_name="gpu")
    b = compute_burden(step, peak, recipe=RECIPE, settings=CostSettings(usd_per_device_hour=3.0))
    assert b.price_unit == "GPU-hour"
    assert b.usd_per_run == pytest.approx(STEPS * 0.1 / 3600 * 3.0)


def test_both_routes_give_carbon_in_kg_and_lbs():
    b = _cpu_run()
    paper = PaperConversion.strubell()
    burden = 1e11 * STEPS * 2.0
    assert b.paper_co2_lbs_per_run == pytest.approx(paper.lbs_per_flop * burden)
    assert b.paper_co2_kg_per_run == pytest.approx(b.paper_co2_lbs_per_run / LBS_PER_KG)
    units = {(r["quantity"], r["unit"]) for r in b.rows()}
    for route in ("CO2e (energy)", "CO2e (paper)"):
        assert {(route, "kg"), (route, "lbs")} <= units


def test_a_cpu_run_explains_why_the_two_dollar_routes_disagree():
    b = _cpu_run()
    # ~2,000 CPU-hours x $0.714 against the paper's per-FLOP rate on a 100 GFLOP/s burden
    ratio = b.usd_per_run / b.paper_usd_high_per_run
    assert ratio > 10
    assert f"{ratio:.3g}x" in b.cost_routes_note and "CPU" in b.cost_routes_note
    assert b.cost_routes_note.count("\n") == 0


def test_no_explanation_when_the_routes_agree_within_10x():
    assert disagreement(100.0, 30.0, 103.0, "GPU-hour") == ""
    assert disagreement(1000.0, 30.0, 103.0, "GPU-hour") == ""  # 9.7x the high end
    assert "differ by" in disagreement(2000.0, 30.0, 103.0, "GPU-hour")
    assert "differ by" in disagreement(2.0, 30.0, 103.0, "GPU-hour")
    assert disagreement(None, 30.0, 103.0, "CPU-hour") == ""


def test_cpu_hour_price_option_reaches_the_configuration():
    import argparse

    from harness.commands._options import add_cost_options, add_step_options, measurement_config

    parser = argparse.ArgumentParser()
    add_step_options(parser)
    add_cost_options(parser)
    default = measurement_config(parser.parse_args([]), "resnet18")
    assert default.price_per_cpu_hour == DEFAULT_USD_PER_CPU_HOUR
    chosen = measurement_config(parser.parse_args(["--cpu-hour-price", "0.2"]), "resnet18")
    assert chosen.price_per_cpu_hour == 0.2 and chosen.key() == default.key()
    unpriced = measurement_config(parser.parse_args(["--cpu-hour-price", "-1"]), "resnet18")
    assert unpriced.price_per_cpu_hour is None

"""published_runs.csv: every row cited, figures parsed, lookups by run or zoo name."""

from __future__ import annotations

import pytest

from harness.arch.registry import get
from harness.catalog.processors import lookup_processor
from harness.catalog.runs import find_run, published_runs
from harness.errors import ConfigurationError


def test_the_brief_s_runs_are_present_and_cited():
    runs = published_runs()
    assert {
        "strubell_transformer_big",
        "patterson_t5",
        "patterson_meena",
        "patterson_gshard_600b",
        "patterson_switch",
        "patterson_gpt3",
        "bloom_176b",
        "llama2_7b",
        "llama2_13b",
        "llama2_70b",
        "llama3_8b",
        "llama3_70b",
        "opt_175b",
    } <= set(runs)
    for r in runs.values():
        assert len(r.source) > 20 and ("arXiv" in r.source or "model card" in r.source)
        assert r.processor_type is None or lookup_processor(r.processor_type) is not None
        if r.zoo_name:
            assert get(r.zoo_name).name == r.zoo_name


def test_model_card_figures_are_parsed_as_published():
    """Llama 2 model card: 184,320 + 368,640 + 1,720,320 GPU hours at 400 W; 31.22 + 62.44 +
    291.42 tCO2eq (the 539 t total also holds the unreleased 34B's 153.90 t)."""
    runs = published_runs()
    hours = [runs[f"llama2_{s}"].device_hours for s in ("7b", "13b", "70b")]
    assert hours == [184_320, 368_640, 1_720_320]
    co2 = sum(runs[f"llama2_{s}"].co2_t for s in ("7b", "13b", "70b"))
    assert co2 + 153.90 == pytest.approx(539.0, abs=0.05)  # table rounding
    bloom = runs["bloom_176b"]
    assert bloom.device_hours * bloom.avg_power_w / 1e6 == pytest.approx(bloom.energy_mwh, 1e-3)


def test_recalled_figures_are_flagged():
    runs = published_runs()
    assert runs["patterson_gpt3"].flagged and runs["llama3_8b"].flagged
    assert not runs["llama2_70b"].flagged


def test_find_by_run_or_zoo_name_and_unknown_is_one_line():
    assert find_run("patterson_gpt3").zoo_name == "gpt3_175b"
    assert find_run("gpt3_175b").run == "patterson_gpt3"
    with pytest.raises(ConfigurationError, match="did you mean llama2_70b") as err:
        find_run("llama2_70")
    assert "\n" not in str(err.value)

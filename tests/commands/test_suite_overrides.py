"""`harness measure --suite` honours the step options, and refuses by name those it cannot."""

from __future__ import annotations

import pytest

import harness.sweep.loop as loop
from harness.cli import main
from harness.sweep.loop import SweepResult


@pytest.fixture
def captured(monkeypatch, tmp_path):
    """The jobs the suite hands to the sweep (nothing is measured)."""
    jobs: list = []

    def fake_run_sweep(js, store, **kw):
        jobs.extend(js)
        return SweepResult(store.path, len(jobs), 0)

    monkeypatch.setattr(loop, "run_sweep", fake_run_sweep)
    monkeypatch.setenv("HARNESS_REPORTS_DIR", str(tmp_path))
    return jobs


def _measure(tmp_path, *options: str) -> int:
    return main(["measure", "--suite", "smoke", "--db", str(tmp_path / "r.sqlite"), *options])


def test_step_options_override_every_job_of_the_suite(captured, tmp_path):
    options = ["--device", "cpu", "--precision", "bf16", "--batch", "5", "--channels-last"]
    options += ["--compile", "reduce-overhead", "--steps", "7", "--seed", "3"]
    assert _measure(tmp_path, *options) == 0
    configs = [j.config for j in captured]
    assert len(configs) == 7  # the smoke suite's seven architectures, one configuration each
    for c in configs:
        assert (c.device, c.precision, c.batch_size) == ("cpu", "bf16", 5)
        assert c.channels_last and c.compile_mode == "reduce-overhead"
        assert (c.min_steps, c.seed) == (7, 3)


def test_without_options_the_suite_file_decides(captured, tmp_path):
    assert _measure(tmp_path) == 0
    by_arch = {j.config.architecture: j.config for j in captured}
    assert by_arch["resnet18"].batch_size == 2  # smoke.toml: batch_sizes = [2]
    assert by_arch["fasterrcnn_resnet50_fpn"].batch_size == 1  # its [[entry]]
    assert {c.precision for c in by_arch.values()} == {"fp32"}


def test_an_option_a_suite_cannot_take_is_refused_by_name(captured, tmp_path, capsys):
    assert _measure(tmp_path, "--input-shape", "1,3,8,8") == 2
    err = capsys.readouterr().err
    assert "--input-shape" in err and err.count("\n") == 1
    assert not captured


def test_a_device_the_suite_cannot_use_is_one_line(captured, tmp_path, capsys):
    assert _measure(tmp_path, "--device", "tpu") == 2
    (error,) = [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln]
    assert "devices: 'tpu' is not" in error


def test_checkpointing_and_truncation_reach_the_jobs_they_apply_to(captured, tmp_path, capsys):
    """The smoke suite mixes vision models with one transformers encoder (bert_base_squad):
    the others are skipped with a note that names the option."""
    assert _measure(tmp_path, "--activation-checkpointing", "--truncate-layers", "1") == 0
    assert [j.config.architecture for j in captured] == ["bert_base_squad"]
    (config,) = [j.config for j in captured]
    assert config.activation_checkpointing and config.truncate_layers == 1
    err = capsys.readouterr().err
    assert "skipped: --activation-checkpointing applies to transformers models; resnet18" in err
    captured.clear()
    assert _measure(tmp_path, "--truncate-layers", "1") == 0
    assert "bert_base_squad" in [j.config.architecture for j in captured]
    assert "skipped: --truncate-layers" in capsys.readouterr().err

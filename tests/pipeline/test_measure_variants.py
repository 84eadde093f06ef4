"""`harness measure` with activation checkpointing and with layer truncation: the recompute is
counted, a checkpointed or truncated run is its own row, a truncated run's step time is scaled
and labelled, and options that cannot apply are one line naming the option."""

from __future__ import annotations

import json
import warnings

import pytest

from harness.cli import main
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.measure import MeasureOptions, measure
from harness.pipeline.record import Measurement
from harness.pipeline.summary import figure_rows

QUICK = MeasureOptions(energy=False, matmul_peak=False)


def _config(**changes) -> MeasurementConfig:
    return MeasurementConfig(
        "llama2_7b", tiny=True, warmup_steps=0, min_steps=1, min_seconds=0.0, **changes
    )


def _measure(config: MeasurementConfig) -> Measurement:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers: use_cache off under checkpointing
        record = measure(config, options=QUICK)
    assert record.ok, record.error
    return record


def _flops(capsys, *extra: str) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert (
            main(["flops", "llama2_7b", "--tiny", "--train", "--batch", "1", "--json", *extra]) == 0
        )
    return json.loads(capsys.readouterr().out)


def test_a_checkpointed_record_counts_the_recompute_and_is_its_own_row(capsys):
    plain = _measure(_config())
    checkpointed = _measure(_config(activation_checkpointing=True))
    extra = checkpointed.counts["train_step_flops"] - plain.counts["train_step_flops"]
    # the same difference `harness flops --train --activation-checkpointing` counts
    by_flops = _flops(capsys, "--activation-checkpointing")["train_step_flops"]
    assert checkpointed.counts["train_step_flops"] == by_flops
    # and by hand (tiny Llama: T 16, d 32, KV width 16, d_ff 64, 2 layers; the last down
    # projection is not recomputed: harness.arch.variants)
    t, d, ff, layers = 16, 32, 64, 2
    block = 2 * t * d * d + 2 * t * d * 16 + 3 * t * d * ff + 2 * t * t * d
    assert extra == 2 * layers * (block - t * ff * d)
    assert checkpointed.key != plain.key
    assert checkpointed.config["activation_checkpointing"] is True


def test_a_truncated_record_is_scaled_and_labelled_k_of_l():
    record = _measure(_config(truncate_layers=1))
    full = _measure(_config())
    t = record.timing
    assert t["scaled_from_layers"] == "1 of 2" and t["layer_scale"] == 2.0
    assert t["scaled_median_s"] == pytest.approx(2 * t["median_s"])
    # the full model is counted; MFU and burden divide that count by the scaled step time
    assert record.counts["train_step_flops"] == full.counts["train_step_flops"]
    achieved = t["utilisation"]["achieved_flop_per_s"]
    assert achieved == pytest.approx(record.counts["train_step_flops"] / t["scaled_median_s"])
    assert record.burden["step_time_s"] == pytest.approx(t["scaled_median_s"])
    assert any("1 of 2 layers timed" in n for n in record.burden["notes"])
    assert record.key not in (full.key, _config(truncate_layers=2).key())
    rows = {r["figure"]: r for r in figure_rows(record)}
    assert rows["scaled_from_layers"]["value"] == "1 of 2"
    assert rows["median step"]["unit"] == "ms (1 of 2 layers, not scaled)"
    assert rows["median step, scaled"]["value"] == pytest.approx(t["scaled_median_s"] * 1e3)


def test_records_without_the_new_settings_keep_their_key():
    """A record stored before these settings existed reads back with them off, same key."""
    config = _config()
    stored = Measurement.create(config, status="ok").to_dict()
    for name in ("activation_checkpointing", "truncate_layers"):
        del stored["config"][name]
    old = Measurement.from_dict(stored)
    assert old.measurement_config.key() == stored["key"] == config.key()
    assert old.measurement_config.activation_checkpointing is False


def _error(capsys, *args: str) -> str:
    code = main(["measure", *args, "--tiny", "--device", "cpu", "--no-store"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1
    return err


def test_options_that_cannot_apply_are_one_line_naming_the_option(capsys):
    assert "--activation-checkpointing" in _error(capsys, "resnet18", "--activation-checkpointing")
    assert "--truncate-layers" in _error(capsys, "resnet18", "--truncate-layers", "1")
    assert "--truncate-layers" in _error(capsys, "llama2_7b", "--truncate-layers", "many")
    assert "keep between 1 and 2" in _error(capsys, "llama2_7b", "--truncate-layers", "3")
    assert "--activation-checkpointing" in _error(
        capsys, "llama2_7b", "--activation-checkpointing", "--nproc-per-node", "2"
    )


def test_the_tidy_export_names_checkpointed_and_truncated_rows():
    from harness.sweep.tidy import tidy_row

    config = _config(activation_checkpointing=True, truncate_layers=1)
    timing = {"median_s": 0.5, "scaled_median_s": 1.0, "scaled_from_layers": "1 of 2"}
    row = tidy_row(Measurement.create(config, status="ok", timing=timing))
    assert row["activation_checkpointing"] is True
    assert (row["scaled_from_layers"], row["scaled_step_ms"]) == ("1 of 2", 1000.0)
    assert tidy_row(Measurement.create(_config(), status="ok"))["activation_checkpointing"] is False


def test_auto_truncation_counts_the_full_model_and_times_what_fits(monkeypatch):
    """`truncate_layers = "auto"`: layers from the GPU's free memory (faked here); on a CPU
    device every layer is timed, and the record says why."""
    import torch

    from harness.arch.registry import get
    from harness.pipeline.variant import measured_variants, whole_model_note
    from harness.timing.layer_fit import layer_params

    arch = get("llama2_7b")
    four = type(arch)(
        **{**arch.__dict__, "tiny_builder": arch.tiny_builder.with_config(num_hidden_layers=4)}
    )
    one, other, _ = layer_params(four, tiny=True)
    free = (other + 3 * one) * 16 / 0.8 + 1  # room for three of four layers
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free, 2 * free))
    on_gpu = measured_variants(four, _config(device="cuda:0", truncate_layers="auto"))
    assert on_gpu.truncation.label == "3 of 4"
    assert on_gpu.counted.tiny_builder.config["num_hidden_layers"] == 4
    assert on_gpu.timed.tiny_builder.config["num_hidden_layers"] == 3
    on_cpu = _config(truncate_layers="auto")
    assert measured_variants(four, on_cpu).truncation is None
    assert "every layer was timed" in whole_model_note(on_cpu, None)

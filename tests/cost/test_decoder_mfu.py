"""Decoder MFU by counted FLOPs and by PaLM's 6N + 12LHQT."""

from __future__ import annotations

import pytest

from harness.arch.decoders import require_decoder
from harness.cost.decoder_mfu import decoder_mfu
from harness.counting.count import count_flops
from harness.counting.per_token import per_token_training


def test_both_definitions_over_the_same_step_time_and_peak():
    counts = count_flops("llama2_7b", tiny=True, train=True, batch_size=2)
    p = per_token_training(counts, require_decoder("llama2_7b"))
    out = decoder_mfu(counts, median_s=0.5, peak_flop_per_s=1e9, devices=2)
    tokens = 2 * 16
    assert out["counted_step_flops"] == pytest.approx(counts.forward_flops + counts.backward_flops)
    assert out["mfu_counted"] == pytest.approx(p.counted * tokens / (0.5 * 1e9 * 2))
    assert out["mfu_palm"] == pytest.approx((p.six_n + p.attention_term) * tokens / 1e9)


def test_other_architectures_and_missing_peaks_add_nothing():
    assert (
        decoder_mfu(count_flops("resnet18", tiny=True, train=True, batch_size=2), 0.1, 1e12) == {}
    )
    counts = count_flops("gpt2_small", tiny=True, train=True)
    out = decoder_mfu(counts, 0.1, None)
    assert out["mfu_counted"] is None and out["palm_step_flops"] > 0


def test_the_record_and_the_measure_rows_carry_both_mfus():
    from harness.pipeline.config import MeasurementConfig
    from harness.pipeline.measure import timing_section
    from harness.pipeline.record import Measurement
    from harness.pipeline.summary import figure_rows

    counts = count_flops("llama2_7b", tiny=True, train=True)
    peak = {"datasheet_flop_per_s": 1e9, "measured_flop_per_s": None}
    section = timing_section({"median_s": 0.01}, counts, peak)
    util = section["utilisation"]
    expected = decoder_mfu(counts, 0.01, 1e9)
    assert util["mfu_counted"] == pytest.approx(expected["mfu_counted"])
    assert util["mfu_palm"] == pytest.approx(expected["mfu_palm"])
    config = MeasurementConfig("llama2_7b", batch_size=1, tiny=True)
    record = Measurement.create(config, status="ok", timing=section)
    rows = {r["figure"]: r["value"] for r in figure_rows(record)}
    assert rows["MFU (counted fwd + bwd)"] == pytest.approx(100 * util["mfu_counted"])
    assert rows["MFU (PaLM)"] == pytest.approx(100 * util["mfu_palm"])

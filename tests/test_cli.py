"""The `harness` command as a user meets it: listing, errors, measure, compare, fit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.arch.registry import list_architectures
from harness.cli import main
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.sweep.store import ResultStore


def _cli(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_zoo_covers_the_five_areas():
    by_bench: dict[str, int] = {}
    for a in list_architectures():
        by_bench[a.benchmark] = by_bench.get(a.benchmark, 0) + 1
    assert by_bench["imagenet"] >= 80
    assert by_bench["coco"] >= 8
    nlp = [a for a in list_architectures() if a.domain == "nlp"]
    assert len(nlp) >= 20
    assert {a.benchmark for a in nlp} >= {"squad11", "conll03", "wmt14_en_fr", "wmt14_en_de"}


def test_list_prints_a_table_with_a_summary(capsys):
    assert main(["list", "--benchmark", "coco"]) == 0
    out = capsys.readouterr().out
    assert "fasterrcnn_resnet50_fpn" in out and "box_ap" in out
    assert "architectures (coco" in out.splitlines()[-1]


def test_unknown_architecture_is_one_line_with_suggestions():
    proc = _cli("info", "resnet5")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "resnet50" in proc.stderr and "did you mean" in proc.stderr


def test_unknown_benchmark_and_missing_suite_are_clear(capsys):
    assert main(["list", "--benchmark", "cifar"]) == 2
    assert "unknown benchmark 'cifar'" in capsys.readouterr().err
    assert main(["measure", "--suite", "no_such_suite"]) == 2
    assert "no_such_suite" in capsys.readouterr().err


def test_cuda_on_a_machine_without_cuda_is_one_line(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["measure", "resnet18", "--tiny", "--device", "cuda", "--no-store"]) == 2
    err = capsys.readouterr().err
    assert "--device cuda" in err and "use --device cpu" in err and err.count("\n") == 1


def test_info_shows_citations(capsys):
    assert main(["info", "resnet50"]) == 0
    out = capsys.readouterr().out
    assert "reference_citation" in out and "published_gmacs" in out


@pytest.mark.slow
def test_measure_one_tiny_architecture_stores_a_labelled_record(tmp_path):
    db = tmp_path / "r.sqlite"
    proc = _cli(
        "measure",
        "bilstm_crf_conll",
        "--tiny",
        "--device",
        "cpu",
        "--batch",
        "2",
        "--steps",
        "3",
        "--warmup",
        "1",
        "--min-seconds",
        "0.2",
        "--db",
        str(db),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "energy per example" in proc.stdout
    # the energy on a machine without NVML or RAPL is an estimate and says so
    assert "estimated-tdp" in proc.stdout or "unavailable" in proc.stdout
    with ResultStore(db) as store:
        (record,) = store.load()
    assert record.ok and record.config["tiny"] is True
    c, t = record.counts, record.timing
    # the stored count is the step that was timed: batch 2, as `harness flops` counts it
    flops = json.loads(
        _cli("flops", "bilstm_crf_conll", "--tiny", "--batch", "2", "--train", "--json").stdout
    )
    assert c["batch_size"] == flops["batch_size"] == 2
    assert c["train_step_flops"] == flops["train_step_flops"]
    # achieved FLOP/s is the counted step over the median step time
    assert t["utilisation"]["achieved_flop_per_s"] == pytest.approx(
        c["train_step_flops"] / t["median_s"]
    )
    assert record.burden["burden_per_step_flop"] == pytest.approx(
        record.burden["peak_flop_per_s"] * t["median_s"]
    )
    assert set(record.environment["phase_seconds"]) >= {"count", "time", "burden"}


@pytest.mark.slow
def test_compare_a_file_outside_the_repository(tmp_path):
    model = tmp_path / "my_net.py"
    model.write_text(
        textwrap.dedent(
            """
            import torch.nn as nn

            def build():
                return nn.Sequential(
                    nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                    nn.Flatten(), nn.Linear(8, 10),
                )
            """
        )
    )
    db = tmp_path / "c.sqlite"
    args = [
        "compare",
        f"{model}:build",
        "--input-shape",
        "1,3,32,32",
        "--against",
        "resnet18",
        "--tiny",
        "--device",
        "cpu",
        "--batch",
        "2",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--min-seconds",
        "0.1",
        "--top1",
        "60",
        "--db",
        str(db),
        "--json",
    ]
    proc = _cli(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "harness.measurement/1" and doc["command"] == "compare"
    out = {**doc["summary"], "new": doc["records"][0], "zoo": doc["records"][1:]}
    assert out["new"]["status"] == "ok" and out["zoo"][0]["config"]["architecture"] == "resnet18"
    # the custom network borrowed resnet18's recipe and the claimed metric, and says so
    assert out["new"]["architecture"]["reference_value"] == 60
    assert any("projected with resnet18's" in n for n in out["notes"])
    # forward MACs of the custom net, by hand: conv 3->8 3x3 on 32x32 + linear 8->10
    assert out["new"]["counts"]["forward_macs_per_example"] == 32 * 32 * 8 * 3 * 9 + 8 * 10
    # the zoo row is reused from the database on a second comparison
    again = _cli(*args)
    assert again.returncode == 0 and "already measured" in again.stderr


def _full_size_record(name: str, value: float, macs: float, burden: float) -> Measurement:
    config = MeasurementConfig(name, batch_size=8)
    return Measurement.create(
        config,
        architecture={
            "name": name,
            "benchmark": "imagenet",
            "reference_value": value,
            "reference_citation": "test",
        },
        counts={"forward_macs_per_example": macs},
        burden={"burden_per_run_flop": burden},
    )


def test_fit_with_measured_reads_the_results_store(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    rows = [("a", 70.0, 1e9, 1e18), ("b", 75.0, 4e9, 8e18), ("c", 80.0, 2e10, 9e19)]
    with ResultStore(db) as store:
        for r in rows:
            store.put(_full_size_record(*r))
        tiny = MeasurementConfig("resnet18", tiny=True)
        store.put(
            Measurement.create(
                tiny, architecture={"benchmark": "imagenet", "reference_value": 69.8}
            )
        )
    assert (
        main(
            ["fit", "--benchmark", "imagenet", "--measure", "per-pass", "--with-measured", str(db)]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "measured 3" in out and "pooled" in out


def test_summary_measured_point_is_the_papers_quantities():
    from harness.pipeline.summary import measured_point

    p = measured_point(_full_size_record("x", 76.0, 4.1e9, 2e19))
    assert p["error"] == pytest.approx(0.24)
    assert p["per_pass_flops"] == 2 * 4.1e9 and p["burden_flops"] == 2e19
    tiny = Measurement.create(
        MeasurementConfig("x", tiny=True),
        architecture={"benchmark": "imagenet", "reference_value": 1},
    )
    assert measured_point(tiny) is None


def test_example_custom_file_is_a_one_file_architecture():
    path = Path(__file__).resolve().parents[1] / "models" / "example_custom.py"
    from harness.arch.registry import resolve

    arch = resolve(f"{path}:convmixer_768_32")
    assert arch.name == "convmixer_768_32" and arch.reference.value == 80.16
    import torch

    with torch.device("meta"):
        model = arch.build()
    # ConvMixer-768/32, patch 7, kernel 7, 1000 classes, by hand:
    d, depth, k, p = 768, 32, 7, 7
    stem = 3 * d * p * p + d + 2 * d
    block = (d * k * k + d + 2 * d) + (d * d + d + 2 * d)
    expected = stem + depth * block + d * 1000 + 1000
    assert sum(t.numel() for t in model.parameters()) == expected

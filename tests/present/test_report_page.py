"""The report renders from any database a sweep can leave behind, and says what it shows."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from harness.cli import main
from harness.errors import HarnessError
from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement
from harness.present.report import ReportPaths, write_report
from harness.sweep.store import ResultStore

PAPER_BASIS = "linear in hardware burden from Strubell et al. 2019 (test)"


def record(
    arch: str,
    benchmark: str,
    reference: float,
    *,
    tiny: bool = True,
    device: str = "cpu",
    device_name: str = "Test CPU",
    provenance: str = "rapl",
    energy_per_example_j: float | None = 2.5,
    step_s: float = 0.5,
    macs_per_example: float = 1.5e6,
    key: str | None = None,
) -> Measurement:
    """A plausible successful record: counts, timing, burden as measure_config writes them."""
    batch = 2
    train_step = 3 * 2 * macs_per_example * batch  # fwd + ~2x bwd, in FLOP
    achieved = train_step / step_s
    peak = 1e11 if device == "cpu" else 989e12
    run_steps = 90 * 1_281_167 / batch
    config = MeasurementConfig(arch, batch_size=batch, tiny=tiny, device=device)
    sheet = peak if device != "cpu" else None
    return Measurement.create(
        config,
        key=key,
        architecture={
            "name": arch,
            "benchmark": benchmark,
            "reference_metric": "top1_acc",
            "reference_value": reference,
        },
        counts={
            "params": 311_000,
            "forward_macs_per_example": macs_per_example,
            "forward_gmacs_per_example": macs_per_example / 1e9,
            "train_step_flops": train_step,
            "backward_forward_ratio": 2.0,
        },
        timing={
            "median_s": step_s,
            "iqr_s": 0.01,
            "batch_size": batch,
            "samples_per_s": batch / step_s,
            "precision_used": "fp32",
            "noisy": False,
            "peak": {"device_name": device_name},
            "utilisation": {
                "achieved_flop_per_s": achieved,
                "mfu": achieved / sheet if sheet else None,
                "mfu_measured": achieved / peak,
            },
        },
        energy={"provenance": provenance, "total_energy_j": 10.0},
        burden={
            "burden_per_run_flop": peak * step_s * run_steps,
            "run_time_s": step_s * run_steps,
            "projection_basis": f"90 epochs x 1,281,167 examples / batch {batch}",
            "peak_source": "measured matmul peak (test)",
            "energy_provenance": provenance,
            "energy_reason": "" if energy_per_example_j else "no counter here",
            "energy_per_step_j": energy_per_example_j * batch if energy_per_example_j else None,
            "energy_per_example_j": energy_per_example_j,
            "kwh_provenance": f"device energy only; {provenance}",
            "pue": 1.0,
            "grid": {"region": "USA", "kg_co2_per_kwh": 0.37, "source": "test grid"},
            "co2_kg_per_run": 12.0,
            "usd_per_run": 34.0,
            "price_source": "$2 per device-hour (test)",
            "paper_co2_lbs_per_run": 5.0,
            "paper_usd_low_per_run": 7.0,
            "paper_usd_high_per_run": 24.0,
            "paper_basis": PAPER_BASIS,
        },
    )


def failed(arch: str, status: str, error: str) -> Measurement:
    config = MeasurementConfig(arch, batch_size=4, tiny=True)
    return Measurement.create(
        config, status=status, error=error, architecture={"name": arch, "benchmark": "squad11"}
    )


def make_db(path, records) -> str:
    with ResultStore(path) as db:
        db.put_many(records)
    return str(path)


@pytest.fixture(scope="module")
def cpu_report(tmp_path_factory) -> tuple[ReportPaths, str, str]:
    """Three ok CPU rows (measured energy and an estimate; one benchmark the paper lacks) and
    two failed rows; no GPU row."""
    tmp = tmp_path_factory.mktemp("report")
    db = make_db(
        tmp / "r.sqlite",
        [
            record("resnet18", "imagenet", 69.758, provenance="rapl", energy_per_example_j=2.5),
            record(
                "alexnet",
                "imagenet",
                56.522,
                provenance="estimated-tdp",
                energy_per_example_j=7.25,
                macs_per_example=2.0e6,
            ),
            record("mystery", "not_a_paper_benchmark", 50.0),
            failed("bert_base_squad", "error", "time: RuntimeError: CUDA out of memory"),
            failed("bidaf_squad", "timeout", "no result after 600 s (timeout)"),
        ],
    )
    paths = write_report(db, tmp / "out")
    return paths, paths.html.read_text(), paths.markdown.read_text()


def test_renders_failed_rows_and_no_gpu_rows(cpu_report):
    paths, html, _ = cpu_report
    assert paths.html.name == "report.html" and paths.markdown.name == "report.md"
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr>") == 5  # one row per measurement, failed ones included
    for name in (
        "resnet18 (tiny)",
        "alexnet (tiny)",
        "bert_base_squad (tiny)",
        "bidaf_squad (tiny)",
    ):
        assert name in body
    assert "CUDA out of memory" in body and "no result after 600 s" in body
    assert ">timeout<" in body and ">error<" in body
    assert "no GPU rows" in html
    assert "<script>" in html and "sortable" in html  # the sortable table ships with the page
    assert "<link" not in html  # self-contained: no external stylesheet


def test_energy_provenance_and_bases_are_on_the_page(cpu_report):
    _, html, md = cpu_report
    assert "2.5 [rapl]" in html
    assert "7.25 [estimated-tdp: ESTIMATE]" in html  # an estimate never reads as a measurement
    assert "ESTIMATE" in md and "[rapl]" in md
    assert "test grid" in html and "$2 per device-hour (test)" in html  # CO2 and $ bases
    assert PAPER_BASIS in html and PAPER_BASIS in md
    assert "7 - 24" in html  # the paper's dollar range


def test_figures_are_png_and_svg_and_linked(cpu_report):
    paths, html, md = cpu_report
    names = {p.name for p in paths.figures}
    assert names == {
        f"{stem}.{ext}"
        for stem in (
            "scaling_imagenet",
            "scaling_not_a_paper_benchmark",
            "utilisation",
            "energy_per_example",
        )
        for ext in ("png", "svg")
    }
    for p in paths.figures:
        assert p.parent == paths.html.parent / "figures"
        data = p.read_bytes()
        assert len(data) > 1000
        assert data.startswith(b"\x89PNG") if p.suffix == ".png" else b"<svg" in data[:2000]
        if p.suffix == ".png":
            assert f"src='figures/{p.name}'" in html
        assert f"figures/{p.name}" in md


def test_markdown_extrapolation_matches_an_independent_fit(cpu_report):
    """The ImageNet per-pass row at the paper's 5% target equals an OLS done here with numpy
    on the published points: log10(1/error) = a + b log10(FLOP), x = (log10(1/0.05) - a) / b."""
    from harness.catalog.published import load_published

    _, _, md = cpu_report
    assert "## Extrapolation" in md
    pub = load_published("imagenet")
    pub = pub[pub["per_pass_flops"].notna()]
    b, a = np.polyfit(np.log10(pub["per_pass_flops"]), np.log10(1 / pub["error"]), 1)
    x = (math.log10(1 / 0.05) - a) / b
    line = next(
        ln for ln in md.splitlines() if re.match(r"\| imagenet \| per-pass \| .* Target 1 ", ln)
    )
    compute = line.split("|")[6].strip()
    assert "5%" in line
    assert math.isclose(float(compute), 10**x, rel_tol=0.06)  # printed with 2 digits


def test_only_failed_rows_give_an_informative_page(tmp_path):
    db = make_db(tmp_path / "f.sqlite", [failed("resnet50", "crashed", "worker died: SIGKILL")])
    paths = write_report(db, tmp_path / "out", include_published=False)
    html = paths.html.read_text()
    assert paths.figures == []
    assert "no successful measurement" in html
    assert "worker died: SIGKILL" in html and "resnet50" in html


def test_missing_fit_is_a_note(cpu_report):
    _, html, md = cpu_report
    assert "squad11 per-pass: no fit" in html  # the paper has no per-pass SQuAD points
    assert "squad11 per-pass: no fit" in md


def test_gpu_rows_are_named_and_not_called_cpu(tmp_path):
    gpu = record(
        "bert_base_squad",
        "squad11",
        88.5,
        tiny=False,
        device="cuda",
        device_name="NVIDIA H100 80GB HBM3",
        provenance="nvml-counter",
        key="gpu-row",  # no device query for the key on a machine without one
    )
    paths = write_report(
        make_db(tmp_path / "g.sqlite", [gpu]), tmp_path / "out", include_published=False
    )
    html = paths.html.read_text()
    assert "NVIDIA H100 80GB HBM3" in html and "[nvml-counter]" in html
    assert "no GPU rows" not in html and "(tiny)" not in html
    assert "ESTIMATE" not in html  # a counter reading is not labelled an estimate


def test_empty_or_missing_database_is_a_clear_error(tmp_path):
    for path in (tmp_path / "absent.sqlite", tmp_path / "zero.sqlite", tmp_path / "empty.sqlite"):
        if path.name == "zero.sqlite":
            path.write_bytes(b"")
        elif path.name == "empty.sqlite":
            ResultStore(path).close()  # a real database with no rows
        with pytest.raises(HarnessError, match=r"no measurements in .*run `harness measure"):
            write_report(path, tmp_path / "out")
    assert not (tmp_path / "out" / "report.html").exists()


def test_report_command_prints_the_paths(tmp_path, capsys):
    db = make_db(tmp_path / "c.sqlite", [failed("vgg16", "error", "count: boom")])
    assert main(["report", "--db", db, "--out", str(tmp_path / "o"), "--no-published"]) == 0
    out = capsys.readouterr().out
    assert f"html:     {tmp_path / 'o' / 'report.html'}" in out
    assert f"markdown: {tmp_path / 'o' / 'report.md'}" in out
    assert main(["report", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "no measurements in" in capsys.readouterr().err

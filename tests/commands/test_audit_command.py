"""`harness audit`: one run's labelled figures, JSON, and one-line errors."""

from __future__ import annotations

import json

from harness.cli import main


def test_a_run_outside_the_zoo_prints_published_and_derived_figures(capsys):
    assert main(["audit", "patterson_t5", "--db", "/nonexistent.sqlite"]) == 0
    out = capsys.readouterr().out
    assert "hardware capacity" in out and "derived" in out and "published" in out
    assert "model not in the zoo" in out


def test_json_carries_the_labels(capsys):
    assert main(["audit", "patterson_meena", "--json", "--db", "/nonexistent.sqlite"]) == 0
    record = json.loads(capsys.readouterr().out)
    kinds = {f["name"]: f["kind"] for f in record["figures"]}
    assert kinds["hardware capacity"] == "derived"
    assert kinds["energy (published)"] == "published"
    assert record["implied_utilisation"] is None  # not in the zoo: nothing counted


def test_unknown_name_is_one_line_with_close_matches(capsys):
    assert main(["audit", "patterson_gpt"]) == 2
    err = capsys.readouterr().err.strip()
    assert "did you mean patterson_gpt3" in err and "\n" not in err
    assert main(["audit"]) == 2
    assert "--all" in capsys.readouterr().err

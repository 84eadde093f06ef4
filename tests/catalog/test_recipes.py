"""Recipes as data, and the one reader of each reference table."""

from __future__ import annotations

import pytest

from harness.arch.recipes import published_recipe
from harness.arch.registry import list_architectures
from harness.catalog.flags import flag_snippets, flag_words, is_flagged
from harness.catalog.processors import alias_table, lookup_processor, processor_table
from harness.catalog.published import (
    benchmark_row,
    benchmark_rows,
    load_published,
    squad_rows_without_em,
)
from harness.catalog.recipes import recipe_entry, recipe_table
from harness.errors import ConfigurationError, HarnessError

RECIPE_BENCHMARKS = ("imagenet", "coco")


def _zoo(benchmark: str) -> list:
    """The torchvision networks models/<benchmark>.py registers (not example_custom's)."""
    return [a for a in list_architectures(benchmark=benchmark) if a.source == f"models.{benchmark}"]


@pytest.mark.parametrize("benchmark", RECIPE_BENCHMARKS)
def test_recipe_files_cover_the_zoo_exactly(benchmark):
    zoo = {a.name for a in _zoo(benchmark)}
    assert set(recipe_table(benchmark)) == zoo


@pytest.mark.parametrize("benchmark", RECIPE_BENCHMARKS)
def test_architectures_carry_their_recipe_file_entry(benchmark):
    for arch in _zoo(benchmark):
        optimizer, recipe = published_recipe(benchmark, arch.name)
        assert arch.optimizer == optimizer and arch.recipe == recipe
        entry = recipe_entry(benchmark, arch.name)
        assert arch.optimizer.citation == entry.citation
        assert arch.recipe.citation.startswith(entry.run_citation)
        assert "{" not in entry.citation and "}" not in entry.citation  # fragments filled in


def test_published_rows_complete_the_paper_runs():
    alexnet = recipe_entry("imagenet", "alexnet")
    assert alexnet.published_row == "AlexNet (1 CNN)"
    _, recipe = published_recipe("imagenet", "alexnet")
    row = benchmark_row("imagenet", "AlexNet (1 CNN)")
    assert recipe.processor_type == row["processor_type"] == "GTX 580"
    assert recipe.processor_count == int(row["processor_count"]) == 2
    assert recipe.train_hours == float(row["train_hours"]) == 132.0


def _write(tmp_path, text: str) -> None:
    (tmp_path / "toy.toml").write_text(text)


GOOD = """
[defaults]
examples_per_epoch = 10
citation_suffix = "; ten examples"
[text]
src = "Paper X"
longer = "{src}, Table 1"
[recipe.a]
models = ["m1", "m2"]
citation = "{longer}: 3 epochs"
epochs = 3
optimizer = { name = "sgd", lr = 0.1, options = { momentum = 0.9 } }
"""


def test_reader_fills_fragments_defaults_and_suffix(tmp_path):
    _write(tmp_path, GOOD)
    entry = recipe_entry("toy", "m2", recipes_dir=tmp_path)
    assert entry.models == ("m1", "m2") and entry.epochs == 3
    assert entry.examples_per_epoch == 10 and entry.precision == "fp32"
    assert entry.citation == "Paper X, Table 1: 3 epochs"
    assert entry.run_citation == "Paper X, Table 1: 3 epochs; ten examples"
    assert dict(entry.optimizer.options) == {"momentum": 0.9}
    with pytest.raises(KeyError, match="no recipe for 'm3'"):
        recipe_entry("toy", "m3", recipes_dir=tmp_path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (GOOD.replace("epochs = 3", "epoch = 3"), "unknown key"),
        (
            GOOD + '[recipe.b]\nmodels = ["m1"]\ncitation = "y"\noptimizer = {name="sgd", lr=1}\n',
            "'m1' is in recipe.a and recipe.b",
        ),
        (GOOD.replace("{longer}", "{nowhere}"), "bad citation fragment"),
        (GOOD.replace("optimizer = {", "optimiser = {"), "unknown key"),
    ],
)
def test_reader_rejects_bad_files(tmp_path, text, match):
    _write(tmp_path, text)
    with pytest.raises(ConfigurationError, match=match):
        recipe_table("toy", recipes_dir=tmp_path)


def test_missing_recipe_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigurationError, match="no training recipes"):
        recipe_table("squad11", recipes_dir=tmp_path)


# -- one reader per table ----------------------------------------------------------------------


def test_raw_rows_and_the_frame_come_from_the_same_rows():
    for benchmark in ("imagenet", "squad11"):
        rows = benchmark_rows(benchmark)
        frame = load_published(benchmark, squad_metric="f1")  # every row has an F1
        assert [r["model"] for r in rows] == list(frame["model"])
        assert [r["source"] for r in rows] == list(frame["citation"])
    # EM (the default) leaves out the rows without an EM figure, and only those
    em = load_published("squad11")
    lacking = squad_rows_without_em()
    assert lacking and [r["model"] for r in benchmark_rows("squad11")] == sorted(
        list(em["model"]) + lacking, key=[r["model"] for r in benchmark_rows("squad11")].index
    )
    assert benchmark_rows("imagenet") is benchmark_rows("imagenet")  # read once


def test_rows_are_read_only_and_unknown_rows_are_clear_errors():
    row = benchmark_row("imagenet", "AlexNet (1 CNN)")
    with pytest.raises(TypeError):
        row["model"] = "x"  # type: ignore[index]
    with pytest.raises(KeyError, match="no row for model 'nope'"):
        benchmark_row("imagenet", "nope")
    with pytest.raises(HarnessError, match="no published points"):
        benchmark_rows("mnist")


def test_one_flag_rule():
    assert flag_words("From MEMORY; flag it") == ["memory", "flag"]
    assert is_flagged("value from memory") and not is_flagged("Table 2") and not is_flagged(None)
    assert flag_snippets("notes", "Table 2") == []
    for spec in processor_table().values():
        assert spec.flagged == is_flagged(spec.source)


def test_aliases_keep_their_notes_and_resolve_like_lookup():
    aliases = alias_table()
    assert aliases["V100"].processor_type == "V100 SXM2"
    assert "GK210" in aliases["K80"].note
    for alias in aliases.values():
        found = lookup_processor(alias.alias)
        assert (found.name if found else None) == alias.processor_type

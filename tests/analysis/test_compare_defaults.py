"""`harness compare --benchmark B` picks a few of the paper's own networks, spanning the trend;
on a CPU it runs their tiny variants unless --full; and it says how long it will take before
starting anything long, refusing (without a prompt) what needs --yes."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest

from harness.analysis.comparison import _choose_zoo, compare
from harness.analysis.run_estimate import ASK_ABOVE_S, estimate
from harness.arch.registry import get, list_architectures
from harness.commands.compare import add_arguments, config_maker
from harness.errors import ConfigurationError
from models import coco, imagenet

REFERENCE = Path(__file__).parents[2] / "harness" / "data" / "reference"
EXAMPLE = str(Path(__file__).parents[2] / "models" / "example_custom.py") + ":convmixer_768_32"


def _published_models(benchmark: str) -> set[str]:
    with open(REFERENCE / f"{benchmark}.csv", newline="") as fh:
        return {row["model"] for row in csv.DictReader(fh)}


@pytest.mark.parametrize(("benchmark", "module"), [("imagenet", imagenet), ("coco", coco)])
def test_paper_tags_name_networks_of_the_published_data(benchmark, module):
    assert set(module.PAPER_NETWORKS.values()) <= _published_models(benchmark)
    tagged = {a.name for a in list_architectures(benchmark=benchmark, tag="paper")}
    assert tagged == set(module.PAPER_NETWORKS)


def test_the_imagenet_default_is_a_few_paper_networks_spanning_the_trend():
    chosen = _choose_zoo(get("convmixer_768_32"), None, "imagenet", 4)
    assert chosen == list(imagenet.COMPARE_DEFAULT)
    assert all("paper" in get(n).tags for n in chosen)
    gmacs = [get(n).published_gmacs for n in chosen]
    assert max(gmacs) / min(gmacs) > 30  # small to large compute
    three = _choose_zoo(get("convmixer_768_32"), None, "imagenet", 3)
    assert three[0] == "mobilenet_v2" and three[-1] == "vgg16"  # the cheapest and the dearest


def _args(*extra: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args([EXAMPLE, "--benchmark", "imagenet", "--device", "cpu", *extra])


def test_on_a_cpu_the_default_runs_tiny_variants_and_full_does_not():
    make, notes = config_maker(_args())
    assert make("resnet50").tiny and make(EXAMPLE).tiny
    assert notes and "--full" in notes[0]
    make_full, notes_full = config_maker(_args("--full"))
    assert not make_full("resnet50").tiny and notes_full == []


def test_the_old_default_at_full_size_on_a_cpu_is_refused_with_its_estimate(tmp_path):
    """alexnet, convnext_base, convnext_large at 224 px on a CPU: minutes, so not without --yes;
    nothing is measured (the database stays empty)."""
    args = _args("--full")
    make, _ = config_maker(args)
    messages: list[str] = []
    with pytest.raises(ConfigurationError, match="add --yes"):
        compare(
            EXAMPLE,
            make_config=make,
            against=["alexnet", "convnext_base", "convnext_large"],
            db=tmp_path / "r.sqlite",
            echo=messages.append,
            ask_above_s=ASK_ABOVE_S,
        )
    assert messages and messages[0].startswith("estimated time: about")
    assert not any(m.startswith("measuring") for m in messages)


def test_the_tiny_default_is_estimated_under_the_limit():
    make, _ = config_maker(_args())
    names = [*_choose_zoo(get("convmixer_768_32"), None, "imagenet", 3), EXAMPLE]
    pairs = [(make(n), make(n).resolve_architecture()) for n in names]
    guess = estimate(pairs, set())
    assert guess.runs == 4 and guess.seconds < ASK_ABOVE_S
    full = config_maker(_args("--full"))[0]
    heavy = estimate([(full(n), get(n)) for n in ("convnext_base", "convnext_large")], set())
    # by hand: 6 FLOP per MAC-step x published GMACs x batch 8 over 30 GFLOP/s a step; 15 s to
    # start, 3 warm-up steps and a counting pass, then 10 timed steps
    steps = [6 * g * 1e9 * 8 / 3e10 for g in (15.355, 34.361)]
    assert heavy.seconds == pytest.approx(sum(15 + 4 * s + 10 * s for s in steps), rel=1e-3)
    assert heavy.seconds > 5 * ASK_ABOVE_S

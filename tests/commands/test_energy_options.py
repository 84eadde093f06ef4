"""`harness measure --cooldown/--cooldown-temp/--host-share`: parsed, checked, refused elsewhere."""

from __future__ import annotations

import argparse

import pytest

from harness.cli import main
from harness.commands._energy_options import add_energy_options, energy_options


def _parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_energy_options(p)
    return p.parse_args(list(argv))


def test_options_become_measure_options():
    args = _parse("--cooldown", "30", "--cooldown-temp", "45", "--host-share", "0.125")
    assert energy_options(args) == {
        "cooldown_max_s": 30.0,
        "cooldown_temp_c": 45.0,
        "host_share": 0.125,
    }
    assert energy_options(_parse("--cooldown-temp", "none")) == {"cooldown_temp_c": None}
    assert energy_options(_parse()) == {}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["measure", "resnet18", "--tiny", "--no-store", "--host-share", "2"], "(0, 1]"),
        (["measure", "resnet18", "--tiny", "--no-store", "--cooldown", "-5"], "cool-down"),
        (["measure", "--suite", "smoke", "--cooldown", "5"], "apply to a single run"),
        (["measure", "resnet18", "--tiny", "--no-store", "--host-share", "0.5"], "CPU run"),
    ],
)
def test_bad_or_misplaced_options_are_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1

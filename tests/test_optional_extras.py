"""fvcore and codecarbon are optional extras: the core install lacks them, and without them the
harness still runs and says what it could not do. A missing package is simulated by
`sys.modules[name] = None`, which makes `import name` raise ImportError."""

from __future__ import annotations

import ast
import json
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

import harness
from harness.catalog import grid
from harness.cli import main
from harness.energy import make_energy_monitor
from harness.energy.factory import check_options
from harness.energy.monitor import UnavailableMonitor
from harness.vocab import UNAVAILABLE

ROOT = Path(harness.__file__).resolve().parent.parent
OPTIONAL = ("fvcore", "codecarbon")


def _requirement_names(requirements: list[str]) -> set[str]:
    return {r.split(">")[0].split("=")[0].split("[")[0].strip().lower() for r in requirements}


def test_core_dependencies_leave_out_the_optional_packages_and_extras_name_them():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = _requirement_names(project["dependencies"])
    extras = project["optional-dependencies"]
    assert not core & set(OPTIONAL)
    assert {"torch", "statsmodels"} <= core  # the regression needs statsmodels: it stays
    assert _requirement_names(extras["fvcore"]) == {"fvcore"}
    assert _requirement_names(extras["codecarbon"]) == {"codecarbon"}
    assert set(OPTIONAL) <= _requirement_names(extras["all"])


def test_no_harness_module_imports_an_optional_package_at_top_level():
    for path in (ROOT / "harness").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in OPTIONAL, f"{path}: top-level import {name}"


@pytest.fixture()
def without(monkeypatch):
    """Hide a package as if it were not installed."""

    def hide(name: str) -> None:
        for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            monkeypatch.delitem(sys.modules, mod)
        monkeypatch.setitem(sys.modules, name, None)
        grid._energy_mix.cache_clear()

    yield hide
    grid._energy_mix.cache_clear()


def test_flops_fvcore_without_fvcore_is_one_line_naming_the_extra(without, tmp_path, capsys):
    without("fvcore")
    f = tmp_path / "net.py"
    f.write_text("from torch import nn\n\ndef build():\n    return nn.Linear(10, 20)\n")
    assert main(["flops", f"{f}:build", "--input-shape", "1,10", "--fvcore"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "pip install 'dl-cost-harness[fvcore]'" in err
    assert main(["flops", f"{f}:build", "--input-shape", "1,10", "--json"]) == 0  # plain: works
    assert json.loads(capsys.readouterr().out)["forward_macs_per_example"] == 200


def test_codecarbon_backend_without_codecarbon_is_labelled_unavailable(without):
    without("codecarbon")
    mon = make_energy_monitor("cpu", backends=["codecarbon"], idle_s=0.0)
    assert isinstance(mon, UnavailableMonitor)
    assert "dl-cost-harness[codecarbon]" in mon.reason
    mon.start()
    mon.begin_window("w")
    m = mon.end_window("w")
    assert m.provenance == UNAVAILABLE and m.total_energy_j is None


def test_country_carbon_without_codecarbon_comes_from_the_shipped_table(without):
    try:
        import codecarbon

        installed = json.loads(
            (
                Path(codecarbon.__file__).parent / "data/private_infra/global_energy_mix.json"
            ).read_text()
        )
        version = metadata.version("codecarbon")
    except ImportError:
        installed, version = None, None
    without("codecarbon")
    fra = grid.grid_intensity("FRA")
    assert "CodeCarbon 3.3.2" in fra.source  # the shipped copy, which needs no codecarbon
    assert fra.region == "FRA" and fra.year is not None
    if installed is not None and version == "3.3.2":  # the release the copy was taken from
        for code in ("FRA", "USA", "DEU", "IND"):
            expected = installed[code]["carbon_intensity"] / 1000
            assert grid.grid_intensity(code).kg_co2_per_kwh == pytest.approx(expected)
    assert len(grid.known_countries()) > 200
    # `harness measure` checks the default country (USA) before measuring: it passes
    check_options(country="USA", pue=1.1, sample_hz=10.0, idle_s=0.0)

"""`register_formula`: a user's formula for a torch.library custom op, by decorator, through a
file named on the command line, and through the `harness.formulas` entry-point group."""

from __future__ import annotations

import json
import sys
from importlib.metadata import EntryPoint

import pytest
import torch
from torch import Tensor

import harness.counting.formulas.user as user
from harness.counting import Cost, register_formula, unregister_formula
from harness.counting.counter import FlopCounter
from harness.errors import ConfigurationError


@torch.library.custom_op("harness_test::scaled_gemm", mutates_args=())
def scaled_gemm(a: Tensor, b: Tensor) -> Tensor:
    return 2 * (a @ b)


@scaled_gemm.register_fake
def _(a, b):
    return a.new_empty(a.shape[0], b.shape[1])


def _count(m, k, n, device="meta") -> FlopCounter:
    a, b = torch.randn(m, k, device=device), torch.randn(k, n, device=device)
    c = FlopCounter()
    with c:
        torch.ops.harness_test.scaled_gemm(a, b)
    return c


@pytest.mark.parametrize(
    "op",
    [
        "harness_test::scaled_gemm",
        "harness_test.scaled_gemm.default",
        torch.ops.harness_test.scaled_gemm,
        torch.ops.harness_test.scaled_gemm.default,
    ],
)
@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_custom_op_is_uncounted_until_a_formula_is_registered(op, device):
    assert _count(3, 4, 5, device).uncounted == {"harness_test.scaled_gemm": 1}

    @register_formula(op)
    def cost(args, kwargs, out):
        a, b = args
        m, k = a.shape
        return Cost(m * k * b.shape[1], out.numel())  # the matmul, then the scaling by 2

    try:
        c = _count(3, 4, 5, device)
        assert c.uncounted == {}
        assert c.total_macs() == 3 * 4 * 5 and c.total_other() == 3 * 5
    finally:
        unregister_formula(op)
    assert _count(3, 4, 5, device).uncounted == {"harness_test.scaled_gemm": 1}


def test_formula_return_forms_and_bad_ones():
    for ret, expected in [(7, (7, 0)), ((7, 2), (7, 2)), (Cost(1, 1), (1, 1))]:
        register_formula("harness_test::scaled_gemm")(lambda a, k, o, r=ret: r)
        c = _count(2, 2, 2)
        assert (c.total_macs(), c.total_other()) == expected
    register_formula("harness_test::scaled_gemm")(lambda a, k, o: "many")
    c = _count(2, 2, 2)  # a formula that fails is never silent: listed, with its error
    assert c.uncounted == {"harness_test.scaled_gemm": 1}
    assert "returned 'many'" in c.formula_errors["harness_test.scaled_gemm"]
    unregister_formula("harness_test::scaled_gemm")
    with pytest.raises(ConfigurationError, match="no operator 'harness_test::nope'"):
        register_formula("harness_test::nope")
    with pytest.raises(ConfigurationError, match="not an operator"):
        register_formula(42)


def test_a_formula_in_a_file_reference_counts_under_harness_flops(tmp_path, capsys):
    from harness.cli import main

    f = tmp_path / "withop.py"
    f.write_text(
        "import torch\n"
        "from torch import nn\n"
        "from harness.counting import register_formula\n\n"
        "@torch.library.custom_op('harness_test_file::double_mm', mutates_args=())\n"
        "def double_mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:\n"
        "    return 2 * (a @ b)\n\n"
        "@double_mm.register_fake\n"
        "def _(a, b):\n"
        "    return a.new_empty(a.shape[0], b.shape[1])\n\n"
        "@register_formula('harness_test_file::double_mm')\n"
        "def _cost(args, kwargs, out):\n"
        "    a, b = args\n"
        "    return a.shape[0] * a.shape[1] * b.shape[1]\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.w = nn.Parameter(torch.zeros(6, 4))\n"
        "    def forward(self, x):\n"
        "        return torch.ops.harness_test_file.double_mm(x, self.w)\n\n"
        "def build():\n"
        "    return Net()\n"
    )
    try:
        assert main(["flops", f"{f}:build", "--input-shape", "3,6", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["uncounted"] == {} and data["forward_macs"] == 3 * 6 * 4
    finally:
        unregister_formula("harness_test_file::double_mm")


def test_entry_point_group_registers_formulas(tmp_path, monkeypatch):
    (tmp_path / "harness_test_plugin.py").write_text(
        "from harness.counting import register_formula\n\n"
        "def register():\n"
        "    register_formula('harness_test::scaled_gemm')(lambda a, k, o: 11)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [
        EntryPoint("good", "harness_test_plugin:register", user.ENTRY_POINT_GROUP),
        EntryPoint("broken", "harness_test_no_such_module", user.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(user, "entry_points", lambda group: eps if group == eps[0].group else [])
    monkeypatch.setattr(user, "_PLUGINS_LOADED", False)
    try:
        c = _count(2, 3, 4)  # a new counter loads the group once
        assert c.total_macs() == 11
    finally:
        unregister_formula("harness_test::scaled_gemm")
        sys.modules.pop("harness_test_plugin", None)

"""`harness flops --by module`: the module tree's MACs, parameters and shares, checked against
MACs worked out by hand (a linear layer of batch N costs N x in x out)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from harness.arch.loader import architecture_from_module_factory
from harness.counting.count import count_flops
from harness.counting.module_tree import record_module_tree, tree_rows

BATCH = 4


class _Scaled(nn.Module):
    """A linear layer followed by a matmul of the module's own (outside any child)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(20, 30)
        self.mix = nn.Parameter(torch.zeros(30, 5))

    def forward(self, x):
        return self.fc(x) @ self.mix


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 20), nn.ReLU(), _Scaled())


def _tree(depth: int):
    arch = architecture_from_module_factory(_net, name="net", input_shape=(BATCH, 10))
    record = count_flops(arch, batch_size=BATCH)
    return record, record_module_tree(arch, record, depth=depth)


def test_tree_matches_hand_counted_macs_and_parameters():
    record, root = _tree(depth=2)
    first, scaled = BATCH * 10 * 20, BATCH * 20 * 30
    own = BATCH * 30 * 5  # the matmul in _Scaled.forward
    assert root.macs == record.forward_macs == first + scaled + own
    assert root.params == (10 * 20 + 20) + (20 * 30 + 30) + 30 * 5
    assert [c.name for c in root.children] == ["0", "2"]  # the ReLU has neither
    lin, block = root.children
    assert (lin.macs, lin.params, lin.flops) == (first, 220, 2 * first)
    assert block.macs == scaled + own and block.own_macs == own
    assert [(c.name, c.macs) for c in block.children] == [("2.fc", scaled)]
    assert sum(c.macs for c in root.children) == root.macs and root.own_macs == 0
    assert lin.share == first / root.macs


def test_depth_one_shows_top_level_children_with_rolled_up_totals():
    _, root = _tree(depth=1)
    lin, block = root.children
    assert lin.children == () and block.children == ()
    assert block.macs == BATCH * (20 * 30 + 30 * 5) and block.collapsed == 1
    rows = tree_rows(root)
    assert [r["module"] for r in rows] == ["(model)", "  0", "  2 (+1 inside)"]
    assert rows[0]["share"] == "100.0%"


@pytest.mark.slow
def test_resnet18_tiny_children_add_up_to_parents():
    arch_name = "resnet18"
    from harness.arch.registry import resolve

    arch = resolve(arch_name)
    record = count_flops(arch, batch_size=2, tiny=True)
    root = record_module_tree(arch, record, depth=3)
    assert root.macs == record.forward_macs
    assert root.params == record.params

    def check(node):
        if node.children:
            assert sum(c.macs for c in node.children) == node.macs, node.name
            for c in node.children:
                check(c)

    check(root)
    assert {c.name for c in root.children} >= {"conv1", "layer1", "layer4", "fc"}


def test_cli_tree_table_and_json(tmp_path, capsys):
    from harness.cli import main

    f = tmp_path / "net.py"
    f.write_text(
        "from torch import nn\n\ndef build():\n"
        "    return nn.Sequential(nn.Linear(10, 20), nn.Sequential(nn.Linear(20, 5)))\n"
    )
    ref = f"{f}:build"
    assert main(["flops", ref, "--input-shape", "1,10", "--by", "module", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "FLOPs" in out and "(+1 inside)" in out and "params" in out
    args = ["flops", ref, "--input-shape", "1,10", "--by", "module", "--depth", "2", "--json"]
    assert main(args) == 0
    tree = json.loads(capsys.readouterr().out)["module_tree"]
    assert tree["macs"] == 10 * 20 + 20 * 5 and tree["params"] == 220 + 105
    assert [c["macs"] for c in tree["children"]] == [200, 100]
    assert tree["children"][1]["children"][0]["name"] == "1.0"
    assert main(["flops", ref, "--input-shape", "1,10", "--by", "module", "--depth", "-1"]) == 2
    assert "--depth" in capsys.readouterr().err


class _Stack(nn.Module):
    """Layers in a ModuleList, which never runs itself (the forward loops over it)."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(8, 8), nn.Linear(8, 8)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def test_a_container_that_never_runs_sums_its_children():
    arch = architecture_from_module_factory(_Stack, name="stack", input_shape=(BATCH, 8))
    record = count_flops(arch, batch_size=BATCH)
    (layers,) = record_module_tree(arch, record, depth=1).children
    assert layers.name == "layers" and layers.macs == 2 * BATCH * 8 * 8
    assert layers.share == 1.0 and layers.collapsed == 2

"""A counted pass as a tree of modules: parameters, MACs, FLOPs and share of the total per
module, down to a depth, in the spirit of fvcore's `flop_count_table` and DeepSpeed's flops
profiler (https://detectron2.readthedocs.io/en/latest/modules/fvcore.html,
https://www.deepspeed.ai/tutorials/flops-profiler/).

A module's MACs include its children's (the counter attributes each operator to every module
running at the time), so a collapsed subtree below the depth limit is already rolled up in its
node. What a module computes itself, outside any child (a functional call in its forward),
is its `own_macs`. FLOPs are 2 x MACs, the harness's convention for matmul-class work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from harness.arch.spec import Architecture
from harness.console import fmt_si
from harness.counting.record import FlopCount
from harness.errors import ConfigurationError


@dataclass(frozen=True)
class ModuleNode:
    """One module of the tree; `children` are empty below the depth limit (`collapsed`
    counts the descendant modules rolled into this node)."""

    name: str  # dotted path from the root; "" is the root
    kind: str  # the module's class name
    params: int  # parameters of the module and its children (shared ones once)
    macs: int  # MACs of the module and its children
    share: float  # of the root's MACs
    children: tuple[ModuleNode, ...]
    collapsed: int  # descendant modules below the depth limit, rolled up into this node

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def own_macs(self) -> int:
        """MACs in this module outside any shown child (its own functional calls, or the
        whole subtree when collapsed)."""
        return self.macs - sum(c.macs for c in self.children)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "share": self.share,
            "own_macs": self.own_macs,
            "collapsed_modules": self.collapsed,
            "children": [c.to_dict() for c in self.children],
        }


def _param_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _descendants(module: nn.Module) -> int:
    return sum(1 for _ in module.modules()) - 1


def module_tree(
    model: nn.Module, module_macs: Mapping[str, int], total_macs: int, *, depth: int
) -> ModuleNode:
    """The tree of `model` to `depth` levels below the root, with MACs from `module_macs`
    (module path -> MACs, children included). The root carries `total_macs`: work done outside
    any module (a forward function calling submodules directly) belongs to the whole model.
    Modules with neither parameters nor MACs are left out."""
    if depth < 0:
        raise ConfigurationError(f"--depth must be at least 0, got {depth}")

    def macs_of(name: str, module: nn.Module) -> int:
        """A module that ran has its own count; a container that never runs itself (a
        ModuleList) has the sum of its children's."""
        if name in module_macs:
            return int(module_macs[name])
        return sum(
            macs_of(f"{name}.{child_name}" if name else child_name, child)
            for child_name, child in module.named_children()
        )

    def node(name: str, module: nn.Module, level: int, macs: int) -> ModuleNode:
        kids: list[ModuleNode] = []
        if level < depth:
            for child_name, child in module.named_children():
                path = f"{name}.{child_name}" if name else child_name
                child_macs = macs_of(path, child)
                if child_macs or _param_count(child):
                    kids.append(node(path, child, level + 1, child_macs))
        collapsed = 0 if level < depth else _descendants(module)
        share = macs / total_macs if total_macs else 0.0
        return ModuleNode(
            name, type(module).__name__, _param_count(module), macs, share, tuple(kids), collapsed
        )

    return node("", model, 0, int(total_macs))


def tree_rows(root: ModuleNode) -> list[dict[str, str]]:
    """The tree as table rows, children indented under their parent, in model order."""
    rows: list[dict[str, str]] = []

    def walk(n: ModuleNode, level: int) -> None:
        label = n.name.rsplit(".", 1)[-1] if n.name else "(model)"
        more = f" (+{n.collapsed} inside)" if n.collapsed and n.children == () else ""
        rows.append(
            {
                "module": "  " * level + label + more,
                "type": n.kind,
                "params": f"{n.params:,}",
                "MACs": fmt_si(n.macs, "MAC"),
                "FLOPs": fmt_si(n.flops, "FLOP"),
                "share": f"{n.share:.1%}",
            }
        )
        for c in n.children:
            walk(c, level + 1)

    walk(root, 0)
    return rows


TREE_COLUMNS: tuple[str, ...] = ("module", "type", "params", "MACs", "FLOPs", "share")


def record_module_tree(arch: Architecture, record: FlopCount, *, depth: int) -> ModuleNode:
    """The tree of a counted record's forward pass (the training forward with `train`), its
    structure and parameters from the architecture built on the meta device."""
    from harness.counting.build import build_meta

    phase = "forward" if record.train else "inference"
    total = record.forward_flops // 2 if record.train else record.forward_macs
    model = build_meta(arch, record.tiny)
    return module_tree(model, record.by_module.get(phase, {}), total, depth=depth)

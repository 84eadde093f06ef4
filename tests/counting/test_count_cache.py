"""The count cache: a count on real tensors is stored, read back unchanged, and never reused
when the architecture, the request or the library versions differ."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from harness.arch.loader import architecture_from_module_factory
from harness.counting import cache as count_cache
from harness.counting.count import count_flops

# meta fails on the nonzero, then real counts; the fake-tensor step would only add seconds
METHODS = ("meta", "real")


class _Gated(nn.Module):
    """A linear layer, then a data-dependent selection (nonzero): only real tensors count it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = self.fc(x)
        return y[y > 0].sum() + y.sum()


def _gated_arch():
    return architecture_from_module_factory(_Gated, name="gated", input_shape=(2, 8))


def _numbers(r):
    d = r.to_dict()
    return {k: v for k, v in d.items() if k not in ("notes", "seconds")}


def test_real_count_is_stored_and_read_back_unchanged(reports_dir):
    arch = _gated_arch()
    first = count_flops(arch, batch_size=2, train=True, cache=True, methods=METHODS)
    assert first.method == "real"
    assert first.forward_macs == 2 * 8 * 4  # the linear layer, counted on real tensors
    assert not any("count cache" in n for n in first.notes)
    assert len(list(count_cache.cache_dir().glob("gated-*.json"))) == 1
    second = count_flops(arch, batch_size=2, train=True, cache=True, methods=METHODS)
    assert any("read from the count cache" in n for n in second.notes)
    assert _numbers(second) == _numbers(first)


def test_a_changed_key_counts_again(reports_dir, monkeypatch):
    arch = _gated_arch()
    count_flops(arch, batch_size=2, cache=True, methods=METHODS)
    other_batch = count_flops(arch, batch_size=3, cache=True, methods=METHODS)
    assert not any("count cache" in n for n in other_batch.notes)
    assert other_batch.forward_macs == 3 * 8 * 4

    def wider() -> nn.Module:
        m = _Gated()
        m.fc = nn.Linear(8, 6)
        return m

    rebuilt = count_flops(replace(arch, builder=wider), batch_size=2, cache=True, methods=METHODS)
    assert not any("count cache" in n for n in rebuilt.notes)
    assert rebuilt.forward_macs == 2 * 8 * 6

    monkeypatch.setattr(torch, "__version__", "0.0.1-other")
    newer_torch = count_flops(arch, batch_size=2, cache=True, methods=METHODS)
    assert not any("count cache" in n for n in newer_torch.notes)
    assert len(list(count_cache.cache_dir().glob("gated-*.json"))) == 4


def test_no_cache_and_fast_methods_store_nothing(reports_dir):
    count_flops(_gated_arch(), batch_size=2, methods=METHODS)  # cache off (the library default)
    mlp = architecture_from_module_factory(
        lambda: nn.Linear(8, 4), name="plain", input_shape=(2, 8)
    )
    assert count_flops(mlp, batch_size=2, cache=True, methods=METHODS).method == "meta"
    assert not count_cache.cache_dir().exists() or not any(count_cache.cache_dir().iterdir())

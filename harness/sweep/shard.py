"""Shards: one suite split across processes or nodes by a hash of each configuration's key.

Why a hash and not positions: a shard keeps its configurations when the suite file gains or
loses an entry elsewhere, and every node computes the same split without talking to others.
`--shard I/N` takes shard I of N, counted from 0 like a Slurm array's task ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from harness.errors import ConfigurationError

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    index: int  # 0 .. count-1
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, key: str) -> bool:
        return shard_of(key, self.count) == self.index


def shard_of(key: str, count: int) -> int:
    """Which of `count` shards a configuration key belongs to (SHA-256, stable everywhere)."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:16], 16) % count


def parse_shard(text: str) -> Shard:
    """`I/N` with 0 <= I < N; anything else is one line saying what to write."""
    head, sep, tail = text.partition("/")
    try:
        index, count = int(head), int(tail)
    except ValueError:
        index = count = -1
    if not sep or count < 1 or not 0 <= index < count:
        raise ConfigurationError(
            f"--shard {text!r}: write I/N with N >= 1 and 0 <= I < N (shard I of N, from 0)"
        )
    return Shard(index, count)


def select(items: Iterable[tuple[str, T]], shard: Shard | None) -> list[T]:
    """The items (key, item) of `shard` (all of them where it is None), in order."""
    return [item for key, item in items if shard is None or shard.holds(key)]

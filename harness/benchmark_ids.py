"""The paper's benchmarks by id: a dependency-free constant, so the CLI can offer them cheaply."""

from __future__ import annotations

BENCHMARKS: tuple[str, ...] = (
    "imagenet",
    "coco",
    "squad11",
    "conll03",
    "wmt14_en_fr",
    "wmt14_en_de",
)

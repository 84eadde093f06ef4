"""Architectures: the spec every network of the zoo is described by, the registry, and loading
networks from outside the zoo.

What a user needs to add an architecture is importable from here::

    from harness.arch import architecture, OptimizerSpec, ReferenceMetric, TrainingRecipe
"""

from harness.arch.registry import architecture, get, list_architectures, register, resolve
from harness.arch.spec import (
    Architecture,
    Batch,
    OptimizerSpec,
    ReferenceMetric,
    TrainingRecipe,
    random_float,
    random_int,
)

__all__ = [
    "Architecture",
    "Batch",
    "OptimizerSpec",
    "ReferenceMetric",
    "TrainingRecipe",
    "architecture",
    "get",
    "list_architectures",
    "random_float",
    "random_int",
    "register",
    "resolve",
]

"""Which quantity a fit regresses on log10 compute: the paper's performance, or what a notebook
of the authors regresses instead.

The paper fits performance P = 1/error. The authors' notebooks also fit the error itself (their
ImageNet notebook) and the score itself (their COCO notebook, log10 of box AP). The model keeps
its meaning for every choice: polynomial regresses log10 of the quantity, exponential the
quantity as it is, so `--dependent error --model polynomial` is their `log10(error) ~ ...`.
"""

from __future__ import annotations

import numpy as np

from harness.errors import HarnessError

DEFAULT_DEPENDENT = "inverse-error"
# name -> the quantity as it reads in the output
DEPENDENTS = {"inverse-error": "1/error", "error": "error", "score": "score"}
SCORE_MEANING = "score = 1 - error (the benchmark's score as a fraction, e.g. top-1, box AP/100)"
MODELS = ("polynomial", "exponential")


def check_dependent(dependent: str) -> None:
    """Refuse an unknown dependent variable, naming the choices."""
    if dependent not in DEPENDENTS:
        raise HarnessError(
            f"unknown dependent variable {dependent!r} (use one of: {', '.join(DEPENDENTS)})"
        )


def quantity(dependent: str, error: np.ndarray | float) -> np.ndarray:
    """The dependent quantity before the model's log: 1/error, error or 1 - error."""
    check_dependent(dependent)
    e = np.asarray(error, dtype=float)
    if dependent == "inverse-error":
        return 1.0 / e
    if dependent == "error":
        return e
    return 1.0 - e


def dependent_values(
    model: str, error: np.ndarray | float, dependent: str = DEFAULT_DEPENDENT
) -> np.ndarray | float:
    """The regression's y: log10 of the quantity (polynomial) or the quantity (exponential)."""
    q = quantity(dependent, error)
    if model == "polynomial":
        return np.log10(q)
    if model == "exponential":
        return q
    raise HarnessError(f"unknown model '{model}' (use one of: {', '.join(MODELS)})")


def describe(model: str, dependent: str = DEFAULT_DEPENDENT) -> str:
    """The y of a fit as text, e.g. 'log10(error)' or '1/error'."""
    q = DEPENDENTS[dependent]
    return f"log10({q})" if model == "polynomial" else q

"""The simulation's records: the process and its settings, one model at one sample size, the
crossover sample sizes, and the whole result."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from harness.errors import ConfigurationError

MODELS = ("oracle", "flexible", "regularised")
PENALTIES = ("lasso", "ridge")
PAPER_CROSSOVERS = {"flexible": 1500, "regularised": 175}  # Thompson et al. 2020, Figure 1


@dataclass(frozen=True)
class SimulationConfig:
    """The data-generating process, the penalty, and how many simulations to average."""

    true_features: int = 10
    candidate_features: int = 1000
    coefficient: float = 1.0
    noise_sd: float = 1.0
    penalty: str = "lasso"
    penalty_scale: float = 1.0
    sims: int = 1000
    group_size: int = 50
    seed: int = 0
    reference_n: int = 15
    tol: float = 1e-4
    max_iter: int = 5000

    def __post_init__(self) -> None:
        p, big_p = self.true_features, self.candidate_features
        if p < 1 or big_p <= p:
            raise ConfigurationError(
                f"need 1 <= true features < candidate features (got {p} and {big_p})"
            )
        if self.penalty not in PENALTIES:
            raise ConfigurationError(
                f"unknown penalty '{self.penalty}' (use one of: {', '.join(PENALTIES)})"
            )
        if self.sims < 2 or self.group_size < 1:
            raise ConfigurationError("need at least 2 simulations and a group size of 1 or more")
        if not (self.noise_sd > 0 and self.coefficient > 0 and self.penalty_scale > 0):
            raise ConfigurationError("noise, coefficient and penalty scale must be positive")
        if self.reference_n <= p + 1:
            raise ConfigurationError(
                f"the oracle's reference size must exceed true features + 1 = {p + 1}"
            )

    @property
    def signal(self) -> float:
        """||beta||^2, the variance of the optimal predictor."""
        return self.true_features * self.coefficient**2

    def lasso_lambda(self, n: int) -> float:
        return (
            self.penalty_scale
            * self.noise_sd
            * math.sqrt(2 * math.log(self.candidate_features) / n)
        )

    @property
    def ridge_alpha(self) -> float:
        return self.penalty_scale * self.noise_sd**2 * self.candidate_features / self.signal

    def describe(self) -> str:
        pen = (
            f"lasso, lambda = {self.penalty_scale:g} x sd x sqrt(2 ln P / n)"
            if self.penalty == "lasso"
            else f"ridge, alpha = {self.penalty_scale:g} x sd^2 x P / ||beta||^2 = {self.ridge_alpha:g}"
        )
        return (
            f"y = X beta + N(0, {self.noise_sd:g}^2); X ~ N(0, 1) over P = {self.candidate_features} "
            f"candidate features, p = {self.true_features} true ones with coefficients "
            f"+-{self.coefficient:g}; {pen}; {self.sims} simulations per size "
            f"(groups of {self.group_size} share a design), seed {self.seed}"
        )


@dataclass(frozen=True)
class ModelPoint:
    """One model at one sample size, averaged over the simulations."""

    model: str
    n: int
    nmse: float | None  # mean normalised MSE; None where the model is undefined
    nmse_se: float | None
    parameters: int
    solver_flops: float | None
    iterations: float | None = None  # mean FISTA iterations (lasso only)

    @property
    def performance(self) -> float | None:
        return -math.log10(self.nmse) if self.nmse else None

    @property
    def param_data(self) -> int:
        """The paper's computation measure: parameters x data points."""
        return self.parameters * self.n


@dataclass(frozen=True)
class Crossover:
    """The sample size at which a flexible model first matches the oracle at reference_n."""

    model: str
    target_performance: float
    n: int | None  # None: not reached by n_max
    n_max: int
    analytic_n: float | None = None  # flexible OLS: P + 1 + P (n0 - p - 1) / p
    paper_n: int | None = None


@dataclass(frozen=True)
class SimulationResult:
    config: SimulationConfig
    points: tuple[ModelPoint, ...]
    reference: ModelPoint  # the oracle at reference_n, simulated
    target: float  # the oracle's expected performance at reference_n (exact for OLS)
    crossovers: tuple[Crossover, ...]
    seconds: float
    seconds_per_size: dict[int, float] = field(default_factory=dict)

    def curve(self, model: str) -> list[ModelPoint]:
        return [p for p in self.points if p.model == model]

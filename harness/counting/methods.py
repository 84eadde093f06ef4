"""One counting run on one tensor kind: the inference pass, and the training step's three parts."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from harness.arch.spec import Architecture, Batch
from harness.counting.build import build_model, fake_mode, make_batch, param_counts
from harness.counting.counter import FlopCounter
from harness.counting.moe import COUNTING_NOTE, nominal_routing
from harness.counting.probes import RcnnProbe
from harness.counting.record import CountingError, DetectionBreakdown
from harness.errors import ConfigurationError

# F.batch_norm's message when training normalises one value per channel (any tensor kind)
_ONE_VALUE_PER_CHANNEL = "Expected more than 1 value per channel when training"


class MethodFailed(Exception):
    """One method of the ladder failed: which, at what stage, in which operator, and why."""

    def __init__(self, method: str, stage: str, op: str | None, exc: BaseException) -> None:
        self.method, self.stage, self.op, self.exc = method, stage, op, exc
        where = f" in operator {op}" if op else ""
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        super().__init__(f"{method}: {stage} failed{where}: {type(exc).__name__}: {msg[:200]}")

    @property
    def data_dependent_shape(self) -> bool:
        """Meta tensors met an operator whose output shape depends on tensor values
        (torch.nonzero, boolean-mask indexing: detectors' score thresholds). Fake tensors
        without a shape environment refuse the same operator (DynamicOutputShapeException),
        so only real tensors can count such a network."""
        return self.method == "meta" and _NONZERO_ON_META in str(self.exc)


# torch/_meta_registrations.py: the meta function of aten.nonzero raises this (torch >= 2.1)
_NONZERO_ON_META = "data-independent implementation does not exist"


class MethodNotTried(Exception):
    """A method the ladder skipped because an earlier failure shows it cannot work."""


@dataclass(frozen=True)
class CountSettings:
    """What to count, the same for every method tried."""

    batch_size: int
    size: int | None
    tiny: bool
    train: bool
    causal_half: bool
    attention_recompute: bool
    real_max_params: int


@dataclass(frozen=True)
class MethodRun:
    """What one successful method left: the counter, and what the record needs besides."""

    counter: FlopCounter
    model: nn.Module
    batch: Batch
    params: int
    trainable: int
    optimizer_flops: int | None
    detection: DetectionBreakdown | None
    notes: list[str]


# torch's default seed in a fresh process (`torch.initial_seed()` before any `manual_seed`).
TORCH_DEFAULT_SEED = 67280421310721


@contextlib.contextmanager
def _seeded_random_numbers(method: str):
    """Real tensors carry random weights, and a detector's count depends on them (how many
    proposals survive score thresholds and NMS; which anchors the training sampler draws).
    Counting on real tensors therefore runs from one fixed seed, whatever the process did
    before, so the same architecture always gives the same count; meta and fake tensors draw
    no random numbers."""
    if method != "real":
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TORCH_DEFAULT_SEED)
        yield


def run_method(arch: Architecture, method: str, settings: CountSettings) -> MethodRun:
    """Count `arch` on `method` tensors; raises MethodFailed naming the stage that failed."""
    with _seeded_random_numbers(method):
        return _run_method(arch, method, settings)


def _run_method(arch: Architecture, method: str, settings: CountSettings) -> MethodRun:
    with contextlib.ExitStack() as routing:  # MoE blocks at nominal top-k while counting
        return _count_model(arch, method, settings, routing)


def _count_model(
    arch: Architecture, method: str, settings: CountSettings, routing: contextlib.ExitStack
) -> MethodRun:
    s = settings
    fake = fake_mode() if method == "fake" else None
    mode_ctx = fake if fake is not None else contextlib.nullcontext()
    stage = "building the model"
    counter: FlopCounter | None = None
    try:
        model = build_model(arch, method, s.tiny, s.real_max_params, fake)
        params, trainable = param_counts(model)
        moe_blocks = routing.enter_context(nominal_routing(model))
        stage = "making the example batch"
        batch = make_batch(arch, method, s.batch_size, s.size, s.tiny, fake)
        counter = FlopCounter(
            model, causal_half=s.causal_half, attention_recompute=s.attention_recompute
        )
        stage = "the inference forward pass"
        model.eval()
        rcnn = RcnnProbe(model)
        with mode_ctx, torch.no_grad(), rcnn, counter:
            arch.forward(model, batch)
        notes: list[str] = [COUNTING_NOTE] if moe_blocks else []
        detection = None
        if rcnn.active:
            stage = "the R-CNN budget breakdown"
            with mode_ctx:
                detection = rcnn.breakdown(
                    counter, batch.size, s.causal_half, s.attention_recompute
                )
        opt_flops = None
        if s.train:
            stage = "the training forward pass"
            model.train()
            counter.phase = "forward"
            with mode_ctx, counter:
                loss = arch.training_loss(model, batch)
                if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
                    raise CountingError(
                        f"{arch.name}: the training loss is not a tensor that requires grad"
                    )
                stage = "the backward pass"
                counter.phase = "backward"
                counter.tracker.reset()
                loss.backward()
            stage = "the optimizer step"
            opt_flops, opt_note = _count_optimizer(arch, model, counter)
            if opt_note:
                notes.append(opt_note)
        return MethodRun(counter, model, batch, params, trainable, opt_flops, detection, notes)
    except (CountingError, ConfigurationError):
        raise  # the request, not the tensor kind: no other method would do better
    except ValueError as exc:
        if _ONE_VALUE_PER_CHANNEL in str(exc):
            raise CountingError(
                f"{arch.name}: {stage} batch-normalises one value per channel at batch "
                f"{s.batch_size}; use --batch 2 or more"
            ) from exc
        raise MethodFailed(method, stage, _failed_op(counter), exc) from exc
    except Exception as exc:
        raise MethodFailed(method, stage, _failed_op(counter), exc) from exc


def _failed_op(counter: FlopCounter | None) -> str | None:
    return counter.failed_op if counter is not None else None


def _count_optimizer(
    arch: Architecture, model: nn.Module, counter: FlopCounter
) -> tuple[int, str | None]:
    """One steady-state step of the recipe's optimizer, on meta replicas of the parameters that
    received gradients (optimizer work depends only on their shapes).

    The first step initialises state (momentum buffers are copies, Adam moments zeros), so it
    runs uncounted; the second step, the one every later step repeats, is counted.
    """
    replicas = []
    for p in model.parameters():
        if p.grad is None:
            continue
        r = torch.empty(p.shape, dtype=p.dtype, device="meta", requires_grad=True)
        r.grad = torch.empty(p.shape, dtype=p.dtype, device="meta")
        replicas.append(r)
    if not replicas:
        return 0, "no parameter received a gradient: optimizer step is empty"
    opt = arch.optimizer.build(replicas)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with FlopCounter():  # the warm-up step, through the counter's meta shortcuts
            opt.step()
        counter.phase = "optimizer"
        with counter:
            opt.step()
    return counter.total_macs("optimizer") * 2 + counter.total_other("optimizer"), None

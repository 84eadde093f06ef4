"""The ladder of tensor kinds a count runs on: meta, then fake, then real CPU tensors."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from harness.arch.spec import Architecture, Batch
from harness.counting.counter import FlopCounter
from harness.counting.probes import _RcnnProbe
from harness.counting.record import CountingError, DetectionBreakdown

# --------------------------------------------------------------------------------------------
# Running an architecture
# --------------------------------------------------------------------------------------------


class _MethodFailed(Exception):
    def __init__(self, method: str, stage: str, op: str | None, exc: BaseException) -> None:
        self.method, self.stage, self.op, self.exc = method, stage, op, exc
        where = f" in operator {op}" if op else ""
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        super().__init__(f"{method}: {stage} failed{where}: {type(exc).__name__}: {msg[:200]}")


@dataclass
class _Run:
    counter: FlopCounter
    model: nn.Module
    batch: Batch
    params: int
    trainable: int
    optimizer_flops: int | None
    detection: DetectionBreakdown | None
    notes: list[str]


def _param_counts(model: nn.Module) -> tuple[int, int]:
    total = trainable = 0
    for p in model.parameters():
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return total, trainable


def _fake_mode():
    from torch._subclasses.fake_tensor import FakeTensorMode

    return FakeTensorMode(allow_non_fake_inputs=True)


@contextlib.contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """Move every parameter to the meta device as it is registered.

    For builders that compute hyperparameters with tensor ops (RegNet's `.tolist()`), which
    fail under `torch.device("meta")`: construction runs on CPU, and each parameter is
    allocated uninitialised, then replaced by a meta tensor before the next one exists.
    """
    original = nn.Module.register_parameter

    def register(self, name, param):
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        original(self, name, param)

    nn.Module.register_parameter = register  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = original  # type: ignore[method-assign]


def _build_meta(arch: Architecture, tiny: bool) -> nn.Module:
    try:
        with torch.device("meta"):
            return arch.build(tiny=tiny)
    except Exception as first:
        try:
            with _parameters_on_meta():
                model = arch.build(tiny=tiny)
        except Exception:
            raise first from None
        for mod in model.modules():
            for name, buf in list(mod._buffers.items()):
                if buf is not None and buf.device.type != "meta":
                    mod._buffers[name] = buf.to("meta")
        return model


def _build(arch: Architecture, method: str, tiny: bool, real_max_params: int, fake_mode):
    if method == "meta":
        return _build_meta(arch, tiny)
    if method == "fake":
        try:
            model = _build_meta(arch, tiny)
        except Exception:
            with fake_mode:
                return arch.build(tiny=tiny)
        with fake_mode:
            model.to_empty(device="cpu")
        return model
    try:
        n = _param_counts(_build_meta(arch, tiny))[0]
    except Exception:
        n = 0
    if n > real_max_params:
        raise CountingError(
            f"{arch.name}: the CPU fallback would allocate {n / 1e6:,.0f}M parameters "
            f"(limit {real_max_params / 1e6:,.0f}M); raise real_max_params to allow it"
        )
    with torch.device("cpu"):
        return arch.build(tiny=tiny)


def _make_batch(arch, method, batch_size, size, tiny, fake_mode) -> Batch:
    if method == "meta":
        return arch.example_batch(batch_size, size=size, tiny=tiny, device="meta")
    if method == "fake":
        try:
            with fake_mode:
                return arch.example_batch(batch_size, size=size, tiny=tiny, device="cpu")
        except Exception:
            real = arch.example_batch(batch_size, size=size, tiny=tiny, device="cpu")
            return _map_tensors(real, fake_mode.from_tensor)
    return arch.example_batch(batch_size, size=size, tiny=tiny, device="cpu")


def _map_tensors(batch: Batch, fn) -> Batch:
    def m(o):
        if isinstance(o, torch.Tensor):
            return fn(o)
        if isinstance(o, tuple):
            return tuple(m(x) for x in o)
        if isinstance(o, list):
            return [m(x) for x in o]
        if isinstance(o, dict):
            return {k: m(v) for k, v in o.items()}
        return o

    return Batch(
        args=m(batch.args), kwargs=m(dict(batch.kwargs)), targets=m(batch.targets), size=batch.size
    )


def _run_method(
    arch: Architecture,
    method: str,
    *,
    batch_size: int,
    size: int | None,
    tiny: bool,
    train: bool,
    causal_half: bool,
    attention_recompute: bool,
    real_max_params: int,
) -> _Run:
    fake_mode = _fake_mode() if method == "fake" else None
    mode_ctx = fake_mode if fake_mode is not None else contextlib.nullcontext()
    stage = "building the model"
    counter: FlopCounter | None = None
    try:
        model = _build(arch, method, tiny, real_max_params, fake_mode)
        params, trainable = _param_counts(model)
        stage = "making the example batch"
        batch = _make_batch(arch, method, batch_size, size, tiny, fake_mode)
        counter = FlopCounter(
            model, causal_half=causal_half, attention_recompute=attention_recompute
        )
        stage = "the inference forward pass"
        model.eval()
        rcnn = _RcnnProbe(model)
        with mode_ctx, torch.no_grad(), rcnn, counter:
            arch.forward(model, batch)
        notes: list[str] = []
        detection = None
        if rcnn.active:
            stage = "the R-CNN budget breakdown"
            with mode_ctx:
                detection = rcnn.breakdown(counter, batch.size, causal_half, attention_recompute)
        opt_flops = None
        if train:
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
        return _Run(counter, model, batch, params, trainable, opt_flops, detection, notes)
    except CountingError:
        raise
    except Exception as exc:
        op = counter.failed_op if counter is not None else None
        raise _MethodFailed(method, stage, op, exc) from exc


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

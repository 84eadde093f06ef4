"""FLOP counting: exact per-pass and training-step counts, on meta tensors, with no silent zeros.

A `TorchDispatchMode` sees every ATen call of a forward pass, a backward pass and an optimizer
step, and costs it with the formulas of `harness.flop_formulas` (matmul-class MACs, and other
FLOPs in their own column). Models are built under `torch.device("meta")`, so counting costs
no memory and no arithmetic for any size of model. A model whose forward cannot run on meta
tensors (`.item()`, data-dependent shapes) is retried on fake tensors (`FakeTensorMode`, CPU
semantics, still no memory), then on real CPU tensors; the record says which (`method`).

Operators that ran but have no formula are listed with their call counts (`uncounted`);
`strict=True` turns them into an error. Nothing is assumed: backward and optimizer work are
counted, not taken as multiples of the forward.

Per-module attribution uses global module hooks in the forward and multi-gradient hooks in the
backward (the mechanism of `torch.utils.module_tracker`); a module's count includes its
children, and a module called several times (shared layers) adds up its calls.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from harness.errors import HarnessError
from harness.flop_formulas import Cost, FormulaOptions, looks_matmul_class, op_name, rule_for
from harness.registry import Architecture, Batch, resolve

METHODS: tuple[str, ...] = ("meta", "fake", "real")
PHASES: tuple[str, ...] = ("inference", "forward", "backward", "optimizer")
DEFAULT_FVCORE_MAX_PARAMS = 200_000_000  # fvcore needs real weights: ~0.8 GB in fp32
DEFAULT_REAL_MAX_PARAMS = 1_000_000_000  # the last-resort CPU fallback allocates the model


class CountingError(HarnessError):
    """Counting failed on every method, or strict mode met an operator without a formula."""


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectionBreakdown:
    """Two-stage detectors: what does and does not depend on the data (per example).

    The backbone, FPN and RPN head cost the same for every image; the R-CNN box head runs once
    per surviving proposal and the mask/keypoint heads once per detection, and how many survive
    score thresholds and NMS depends on the weights and the image. `nominal_macs_per_example`
    is the count at the model's own budget (RPN post-NMS top-n in eval, detections_per_img).
    """

    data_independent_macs_per_example: float
    proposals_per_example: float  # rows the box head processed in this run
    proposal_budget: int
    per_proposal_macs: int
    detections_per_example: float  # rows the mask/keypoint heads processed in this run
    detection_budget: int
    per_detection_macs: int
    nominal_macs_per_example: float


@dataclass(frozen=True)
class FlopCount:
    """One architecture's counted compute. MACs: 1 fused multiply-add = 1; FLOPs = 2 x MACs.

    `forward_macs_per_example` is the paper's per-pass compute: the inference pass (eval mode,
    no_grad) at batch `batch_size`, divided by the batch. For one training step of the batch
    (`train=True`): `forward_flops` (train mode, loss included), `backward_flops` and
    `optimizer_flops` are counted separately and `train_step_flops` is their sum. Forward and
    backward FLOPs are 2 x matmul-class MACs; the optimizer's work is pointwise, costed per
    element (harness.flop_formulas). Non-matmul work of every phase is in `other_flops`.
    """

    architecture: str
    batch_size: int
    size: int | None
    size_kind: str
    tiny: bool
    train: bool
    method: str  # "meta", "fake" or "real"
    params: int
    trainable_params: int
    forward_macs: int  # inference pass, whole batch
    forward_macs_per_example: float
    forward_flops: int  # 2 x MACs of the counted forward (training forward when train=True)
    backward_flops: int | None
    optimizer_flops: int | None
    train_step_flops: int | None
    other_flops: dict[str, int]  # phase -> non-matmul FLOPs
    by_op: dict[str, dict[str, int]]  # phase -> op -> MACs
    by_module: dict[str, dict[str, int]]  # phase -> module path -> MACs (children included)
    uncounted: dict[str, int]  # op -> calls, over all phases
    causal: str  # "full" or "half": how is_causal attention was counted
    causal_attention_calls: int  # is_causal attention calls in the inference pass
    attention_backward: str  # "algorithmic" or "with-recompute"
    optimizer: str
    fvcore_forward_macs_per_example: float | None = None
    fvcore_note: str | None = None
    detection: DetectionBreakdown | None = None
    fallbacks: tuple[str, ...] = ()  # why earlier methods failed
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    torch_version: str = field(default_factory=lambda: torch.__version__)

    @property
    def forward_gmacs_per_example(self) -> float:
        return self.forward_macs_per_example / 1e9

    @property
    def backward_forward_ratio(self) -> float | None:
        if self.backward_flops is None or not self.forward_flops:
            return None
        return self.backward_flops / self.forward_flops

    @property
    def uncounted_matmul_class(self) -> dict[str, int]:
        return {k: v for k, v in self.uncounted.items() if looks_matmul_class(k)}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["forward_gmacs_per_example"] = self.forward_gmacs_per_example
        d["backward_forward_ratio"] = self.backward_forward_ratio
        d["fallbacks"] = list(self.fallbacks)
        d["notes"] = list(self.notes)
        return d


# --------------------------------------------------------------------------------------------
# Module attribution
# --------------------------------------------------------------------------------------------


class _ModuleTracker:
    """Which modules are running now, forward (global module hooks) and backward (multi-grad
    hooks on each module's outputs and inputs). Names are paths from the root ('' = root)."""

    def __init__(self, root: nn.Module | None) -> None:
        self.names: dict[int, str] = {}
        if root is not None:
            for name, mod in root.named_modules(remove_duplicate=False):
                self.names.setdefault(id(mod), name)
        self.active: Counter[str] = Counter()
        self._handles: list[Any] = []
        self._grad_handles: list[Any] = []

    def __enter__(self) -> _ModuleTracker:
        from torch.nn.modules.module import (
            register_module_forward_hook,
            register_module_forward_pre_hook,
        )

        self._handles = [
            register_module_forward_pre_hook(self._pre),
            register_module_forward_hook(self._post),
        ]
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles + self._grad_handles:
            h.remove()
        self._handles, self._grad_handles = [], []
        self.active.clear()

    def reset(self) -> None:
        self.active.clear()

    def _enter(self, name: str) -> None:
        self.active[name] += 1

    def _leave(self, name: str) -> None:
        if self.active.get(name, 0) > 0:
            self.active[name] -= 1
            if not self.active[name]:
                del self.active[name]

    def _grad_hook(self, tensors: Any, fn: Any) -> None:
        from torch.autograd.graph import register_multi_grad_hook

        flat = [t for t in _flatten(tensors) if isinstance(t, torch.Tensor) and t.requires_grad]
        if flat and torch.is_grad_enabled():
            self._grad_handles.append(register_multi_grad_hook(flat, fn))

    def _pre(self, mod: nn.Module, inputs: Any) -> None:
        name = self.names.get(id(mod))
        if name is None:
            return
        self._enter(name)
        self._grad_hook(inputs, lambda grads, n=name: self._leave(n))

    def _post(self, mod: nn.Module, inputs: Any, output: Any) -> None:
        name = self.names.get(id(mod))
        if name is None:
            return
        self._leave(name)
        self._grad_hook(output, lambda grads, n=name: self._enter(n))


def _flatten(obj: Any) -> Iterator[Any]:
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _flatten(o)
    elif isinstance(obj, Mapping):
        for o in obj.values():
            yield from _flatten(o)
    elif hasattr(obj, "to_tuple"):  # transformers ModelOutput
        yield from _flatten(obj.to_tuple())


# --------------------------------------------------------------------------------------------
# The counter
# --------------------------------------------------------------------------------------------


class _CausalSdpaRoute:
    """Sees every `F.scaled_dot_product_attention` call while counting, to record is_causal.

    With causal_half on meta or fake tensors it also sends is_causal calls to the fused CPU
    kernel: meta tensors have no SDPA backend chooser, so SDPA decomposes into the math path,
    whose matmuls do not know they are causal; the fused kernel carries is_causal into the
    count, with the same shapes. The function is patched for the duration (a TorchFunctionMode
    would disable nn.MultiheadAttention's fast path, which must run as it would).
    """

    def __init__(self, counter: FlopCounter, route: bool) -> None:
        self.counter = counter
        self.route = route
        self._original: Any = None

    def __enter__(self) -> _CausalSdpaRoute:
        self._original = F.scaled_dot_product_attention
        original = self._original

        def sdpa(*args, **kwargs):
            routed = self._maybe_route(args, kwargs)
            return routed if routed is not None else original(*args, **kwargs)

        F.scaled_dot_product_attention = sdpa
        return self

    def __exit__(self, *exc: Any) -> None:
        F.scaled_dot_product_attention = self._original

    def _maybe_route(self, args, kwargs):
        names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal")
        given = dict(zip(names, args, strict=False)) | kwargs
        if not given.get("is_causal", False):
            return None
        self.counter.causal_calls[self.counter.phase] += 1
        if not self.route:
            return None
        q, k, v = given.get("query"), given.get("key"), given.get("value")
        fusable = (
            all(isinstance(t, torch.Tensor) for t in (q, k, v))
            and q.dim() == 4 == k.dim() == v.dim()
            and q.shape[-1] == k.shape[-1] == v.shape[-1]
            and q.shape[1] == k.shape[1] == v.shape[1]
            and given.get("attn_mask") is None
            and not given.get("enable_gqa", False)
            and (q.device.type == "meta" or type(q).__name__ == "FakeTensor")
        )
        if not fusable:
            if q is not None and q.device.type == "meta":
                self.counter.notes["causal attention counted in full (math path)"] += 1
            return None
        dropout = float(given.get("dropout_p") or 0.0)
        out = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            q, k, v, dropout, True, scale=given.get("scale")
        )
        return out[0]


class _MetaMemo:
    """Replays the output metadata of functional ops on meta tensors.

    Many meta kernels are Python decompositions (batch norm takes ~10 ms a call); an op whose
    outputs are fresh tensors (no aliasing, no data-dependent shapes) gets the same output
    shapes and strides for the same argument metadata, so a second call with the same
    signature makes empty meta outputs instead of re-running the kernel.
    """

    _SKIP_TAGS = frozenset(
        t
        for t in (
            getattr(torch.Tag, "dynamic_output_shape", None),
            getattr(torch.Tag, "data_dependent_output", None),
            getattr(torch.Tag, "nondeterministic_seeded", None),
        )
        if t is not None
    )

    def __init__(self) -> None:
        self.ok: dict[Any, bool] = {}
        self.cache: dict[Any, Any] = {}

    def memoizable(self, func) -> bool:
        ok = self.ok.get(func)
        if ok is None:
            try:
                rets = func._schema.returns
                ok = (
                    bool(rets)
                    and all(r.alias_info is None for r in rets)
                    and all(str(r.type) in ("Tensor", "List[Tensor]") for r in rets)
                    and not (set(func.tags) & self._SKIP_TAGS)
                )
            except Exception:
                ok = False
            self.ok[func] = ok
        return ok

    @staticmethod
    def key(func, args, kwargs) -> Any:
        def k(o):
            if isinstance(o, torch.Tensor):
                if (
                    o.device.type != "meta"
                    or type(o) is not torch.Tensor
                    and not isinstance(o, nn.Parameter)
                ):
                    raise TypeError
                return ("T", tuple(o.shape), o.stride(), o.dtype, o.storage_offset())
            if isinstance(o, (list, tuple)):
                return tuple(k(x) for x in o)
            if o is None or isinstance(
                o,
                (
                    bool,
                    int,
                    float,
                    str,
                    torch.dtype,
                    torch.device,
                    torch.layout,
                    torch.memory_format,
                ),
            ):
                return o
            raise TypeError

        if not any(isinstance(a, torch.Tensor) for a in args):
            return None  # factories (zeros, empty) follow their device argument, not ours
        try:
            return (func, k(args), tuple((n, k(v)) for n, v in sorted(kwargs.items())))
        except TypeError:
            return None

    @staticmethod
    def describe(out: Any) -> Any:
        if isinstance(out, torch.Tensor):
            return ("T", tuple(out.shape), out.stride(), out.dtype)
        if isinstance(out, tuple):
            return ("tuple", tuple(_MetaMemo.describe(o) for o in out))
        if isinstance(out, list):
            return ("list", [_MetaMemo.describe(o) for o in out])
        raise TypeError

    @staticmethod
    def make(desc: Any) -> Any:
        kind = desc[0]
        if kind == "T":
            return torch.empty_strided(desc[1], desc[2], dtype=desc[3], device="meta")
        if kind == "tuple":
            return tuple(_MetaMemo.make(d) for d in desc[1])
        return [_MetaMemo.make(d) for d in desc[1]]


_MEMO = _MetaMemo()


class FlopCounter(TorchDispatchMode):
    """Counts the ATen calls made while active. Usable on its own:

        with FlopCounter(model) as c:
            model(x)
        c.total_macs("inference")

    `phase` names the bucket the calls go to; `count_flops` switches it between passes.
    """

    def __init__(
        self,
        root: nn.Module | None = None,
        *,
        causal_half: bool = False,
        attention_recompute: bool = False,
        phase: str = "inference",
    ) -> None:
        super().__init__()
        self.opts = FormulaOptions(causal_half=causal_half, attention_recompute=attention_recompute)
        self.phase = phase
        self.macs: dict[str, Counter[str]] = defaultdict(Counter)
        self.other: dict[str, Counter[str]] = defaultdict(Counter)
        self.module_macs: dict[str, Counter[str]] = defaultdict(Counter)
        self.uncounted: Counter[str] = Counter()
        self.tags: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()
        self.formula_errors: dict[str, str] = {}
        self.failed_op: str | None = None
        self.causal_calls: Counter[str] = Counter()  # phase -> is_causal SDPA calls
        self.tracker = _ModuleTracker(root)
        self._route = _CausalSdpaRoute(self, route=causal_half)
        self._memo = _MEMO
        self._stack: contextlib.ExitStack | None = None
        self._depth = 0

    # -- context ------------------------------------------------------------------------------

    def __enter__(self) -> FlopCounter:
        # re-entered (without the hooks) when an op without a rule is decomposed inside dispatch
        if self._depth == 0:
            self._stack = contextlib.ExitStack()
            self._stack.enter_context(self.tracker)
            self._stack.enter_context(self._route)
        self._depth += 1
        super().__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        self._depth -= 1
        if self._depth == 0 and self._stack is not None:
            self._stack.close()
            self._stack = None

    # -- dispatch -----------------------------------------------------------------------------

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        rule = rule_for(func)
        if rule.kind == "unknown":
            with self:
                r = func.decompose(*args, **kwargs)
            if r is not NotImplemented:
                return r
        memo_key = None
        if rule.inplace and args and isinstance(args[0], torch.Tensor) and _all_meta(args):
            return self._count(func, rule, args, kwargs, args[0])  # shape-preserving, no data
        if self._memo.memoizable(func):
            memo_key = self._memo.key(func, args, kwargs)
            desc = self._memo.cache.get(memo_key) if memo_key is not None else None
            if desc is not None:
                out = self._memo.make(desc)
                return self._count(func, rule, args, kwargs, out)
        try:
            out = func(*args, **kwargs)
        except Exception:
            if self.failed_op is None:
                self.failed_op = op_name(func)
            raise
        if memo_key is not None:
            if len(self._memo.cache) > 200_000:  # bounded: shapes repeat across models
                self._memo.cache.clear()
            with contextlib.suppress(TypeError):
                self._memo.cache[memo_key] = self._memo.describe(out)
        return self._count(func, rule, args, kwargs, out)

    def _count(self, func, rule, args, kwargs, out):
        if rule.kind == "zero":
            return out
        name = _short(op_name(func))
        if rule.kind == "unknown":
            self.uncounted[name] += 1
            return out
        try:
            cost = rule.formula(args, kwargs, out, self.opts)
        except Exception as exc:  # a formula that cannot read these arguments: never silent
            self.formula_errors[name] = f"{type(exc).__name__}: {exc}"
            self.uncounted[name] += 1
            return out
        self._add(name, cost)
        return out

    def _add(self, name: str, cost: Cost) -> None:
        phase = self.phase
        if cost.macs:
            self.macs[phase][name] += cost.macs
            mods = self.module_macs[phase]
            for m in self.tracker.active:
                mods[m] += cost.macs
        if cost.other:
            self.other[phase][name] += cost.other
        if cost.tag:
            self.tags[f"{phase}:{cost.tag}"] += 1

    # -- results ------------------------------------------------------------------------------

    def total_macs(self, phase: str | None = None) -> int:
        phases = [phase] if phase else list(self.macs)
        return sum(sum(self.macs[p].values()) for p in phases)

    def total_other(self, phase: str | None = None) -> int:
        phases = [phase] if phase else list(self.other)
        return sum(sum(self.other[p].values()) for p in phases)

    def by_op(self, phase: str) -> dict[str, int]:
        return dict(sorted(self.macs[phase].items(), key=lambda kv: -kv[1]))

    def by_module(self, phase: str) -> dict[str, int]:
        return dict(self.module_macs[phase])


def _all_meta(args: Any) -> bool:
    return all(
        a.device.type == "meta" and type(a) in (torch.Tensor, nn.Parameter)
        for a in args
        if isinstance(a, torch.Tensor)
    )


def _short(name: str) -> str:
    return name[len("aten.") :] if name.startswith("aten.") else name


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


# --------------------------------------------------------------------------------------------
# Two-stage detectors
# --------------------------------------------------------------------------------------------


class _RcnnProbe:
    """Records how many rows torchvision's R-CNN heads process (box / mask / keypoint)."""

    def __init__(self, model: nn.Module) -> None:
        roi = getattr(model, "roi_heads", None)
        rpn = getattr(model, "rpn", None)
        self.model = model
        self.active = roi is not None and rpn is not None and hasattr(roi, "box_head")
        self.rows: dict[str, int] = defaultdict(int)
        self.shapes: dict[str, tuple[int, ...]] = {}
        self._handles: list[Any] = []

    def __enter__(self) -> _RcnnProbe:
        if not self.active:
            return self
        roi = self.model.roi_heads
        for branch in ("box", "mask", "keypoint"):
            head = getattr(roi, f"{branch}_head", None)
            if head is not None:
                self._handles.append(head.register_forward_pre_hook(self._hook(branch)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def _hook(self, branch: str):
        def fn(mod, inputs):
            x = inputs[0]
            self.rows[branch] += int(x.shape[0])
            self.shapes[branch] = tuple(int(s) for s in x.shape[1:])

        return fn

    def _per_row(self, branch: str, causal_half: bool, recompute: bool) -> int:
        roi = self.model.roi_heads
        head = getattr(roi, f"{branch}_head")
        predictor = getattr(roi, f"{branch}_predictor")
        shape = self.shapes.get(branch)
        if shape is None:
            return 0
        p = next(head.parameters())
        x = torch.zeros((1, *shape), dtype=p.dtype, device=p.device)
        c = FlopCounter(causal_half=causal_half, attention_recompute=recompute)
        with torch.no_grad(), c:
            predictor(head(x))
        return c.total_macs()

    def breakdown(
        self, counter: FlopCounter, batch: int, causal_half: bool, recompute: bool
    ) -> DetectionBreakdown:
        total = counter.total_macs("inference")
        roi_macs = counter.by_module("inference").get("roi_heads", 0)
        per_prop = self._per_row("box", causal_half, recompute)
        per_det = sum(
            self._per_row(b, causal_half, recompute)
            for b in ("mask", "keypoint")
            if getattr(self.model.roi_heads, f"{b}_head", None) is not None
        )
        was_training = self.model.training
        self.model.eval()
        budget = int(self.model.rpn.post_nms_top_n())
        self.model.train(was_training)
        det_budget = int(getattr(self.model.roi_heads, "detections_per_img", 0))
        independent = (total - roi_macs) / batch
        det_rows = max(self.rows.get("mask", 0), self.rows.get("keypoint", 0))
        return DetectionBreakdown(
            data_independent_macs_per_example=independent,
            proposals_per_example=self.rows.get("box", 0) / batch,
            proposal_budget=budget,
            per_proposal_macs=per_prop,
            detections_per_example=det_rows / batch,
            detection_budget=det_budget if per_det else 0,
            per_detection_macs=per_det,
            nominal_macs_per_example=independent + per_prop * budget + per_det * det_budget,
        )


# --------------------------------------------------------------------------------------------
# fvcore cross-check
# --------------------------------------------------------------------------------------------


class _FvcoreAdapter(nn.Module):
    """Tensors in, tuple of tensors out: the shape fvcore's JIT tracer needs."""

    def __init__(self, model: nn.Module, arch: Architecture, batch: Batch) -> None:
        super().__init__()
        self.model = model
        self.arch = arch
        self.batch = batch
        self.leaves = [
            t for t in _flatten((batch.args, dict(batch.kwargs))) if isinstance(t, torch.Tensor)
        ]

    def forward(self, *tensors: torch.Tensor):
        it = iter(tensors)
        inputs = replace(self.batch, targets=None)
        batch = _map_tensors(inputs, lambda _t: next(it))
        out = self.arch.forward(self.model, batch)
        flat = tuple(t for t in _flatten(out) if isinstance(t, torch.Tensor))
        return flat if len(flat) != 1 else flat[0]


def fvcore_forward_macs(
    arch: Architecture | str,
    *,
    size: int | None = None,
    tiny: bool = False,
    max_params: int | None = DEFAULT_FVCORE_MAX_PARAMS,
) -> tuple[float | None, str | None]:
    """fvcore's forward MACs per example (batch 1, eval, real CPU tensors), or (None, reason)."""
    arch = resolve(arch) if isinstance(arch, str) else arch
    try:
        from fvcore.nn import FlopCountAnalysis
    except ImportError:
        return None, "fvcore is not installed"
    n = _param_counts(_build_meta(arch, tiny))[0]
    if max_params is not None and n > max_params:
        return None, (
            f"skipped: {n / 1e6:,.0f}M parameters > {max_params / 1e6:,.0f}M "
            "(fvcore needs real weights; raise fvcore_max_params)"
        )
    try:
        with torch.device("cpu"):
            model = arch.build(tiny=tiny)
        model.eval()
        batch = arch.example_batch(1, size=size, tiny=tiny, device="cpu")
        adapter = _FvcoreAdapter(model, arch, batch).eval()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            analysis = FlopCountAnalysis(adapter, tuple(adapter.leaves))
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            total = analysis.total()
        return total / batch.size, None
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return None, f"fvcore failed: {type(exc).__name__}: {msg[:160]}"


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def count_flops(
    arch: Architecture | str,
    *,
    batch_size: int = 1,
    size: int | None = None,
    tiny: bool = False,
    train: bool = False,
    causal_half: bool = False,
    attention_recompute: bool = False,
    strict: bool = False,
    fvcore: bool = False,
    fvcore_max_params: int | None = DEFAULT_FVCORE_MAX_PARAMS,
    methods: tuple[str, ...] = METHODS,
    real_max_params: int = DEFAULT_REAL_MAX_PARAMS,
) -> FlopCount:
    """Count one architecture: its inference pass, and with `train` one training step.

    Tries `methods` in order (meta, fake, real CPU) and records the first that works. Raises
    CountingError naming the architecture and the failing operator when none does, and, with
    `strict`, when any operator ran without a formula.
    """
    arch = resolve(arch) if isinstance(arch, str) else arch
    if batch_size < 1:
        raise CountingError(f"batch size must be at least 1, got {batch_size}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise CountingError(f"unknown counting method(s) {unknown}; use {', '.join(METHODS)}")
    t0 = time.perf_counter()
    failures: list[_MethodFailed] = []
    run: _Run | None = None
    method = methods[0]
    for method in methods:
        try:
            run = _run_method(
                arch,
                method,
                batch_size=batch_size,
                size=size,
                tiny=tiny,
                train=train,
                causal_half=causal_half,
                attention_recompute=attention_recompute,
                real_max_params=real_max_params,
            )
            break
        except _MethodFailed as exc:
            failures.append(exc)
    if run is None:
        last = failures[-1]
        ops = [f.op for f in failures if f.op]
        op = f"; failing operator: {ops[-1]}" if ops else ""
        raise CountingError(
            f"{arch.name}: counting failed on {', '.join(f.method for f in failures)} tensors{op} "
            f"({last})"
        ) from last.exc
    c = run.counter
    if c.uncounted and strict:
        ops = ", ".join(f"{k} ({v} calls)" for k, v in c.uncounted.most_common())
        raise CountingError(f"{arch.name}: operators without a FLOP formula ran: {ops}")
    inference = c.total_macs("inference")
    fwd_macs = c.total_macs("forward") if train else inference
    bwd = 2 * c.total_macs("backward") if train else None
    opt = run.optimizer_flops if train else None
    step = 2 * fwd_macs + bwd + opt if train else None  # type: ignore[operator]
    notes = list(run.notes)
    notes += [f"{k} ({v} calls)" for k, v in c.notes.items()]
    notes += [
        f"formula for {k} could not read its arguments: {v}" for k, v in c.formula_errors.items()
    ]
    if run.batch.size != batch_size:
        notes.append(f"the batch factory made {run.batch.size} examples")
    causal_calls = c.causal_calls["inference"] or sum(
        v for k, v in c.tags.items() if k.startswith("inference:")
    )
    fv_macs, fv_note = (None, None)
    if fvcore:
        fv_macs, fv_note = fvcore_forward_macs(
            arch, size=size, tiny=tiny, max_params=fvcore_max_params
        )
    phases = [p for p in PHASES if p in c.macs or p in c.other]
    return FlopCount(
        architecture=arch.name,
        batch_size=run.batch.size,
        size=size if size is not None else (arch.tiny_size if tiny else arch.default_size),
        size_kind=arch.size_kind,
        tiny=tiny,
        train=train,
        method=method,
        params=run.params,
        trainable_params=run.trainable,
        forward_macs=inference,
        forward_macs_per_example=inference / run.batch.size,
        forward_flops=2 * fwd_macs,
        backward_flops=bwd,
        optimizer_flops=opt,
        train_step_flops=step,
        other_flops={p: c.total_other(p) for p in phases},
        by_op={p: c.by_op(p) for p in phases if c.macs.get(p)},
        by_module={p: c.by_module(p) for p in phases if c.module_macs.get(p)},
        uncounted=dict(c.uncounted.most_common()),
        causal="half" if causal_half else "full",
        causal_attention_calls=causal_calls,
        attention_backward="with-recompute" if attention_recompute else "algorithmic",
        optimizer=_describe_optimizer(arch),
        fvcore_forward_macs_per_example=fv_macs,
        fvcore_note=fv_note,
        detection=run.detection,
        fallbacks=tuple(str(f) for f in failures),
        notes=tuple(notes),
        seconds=time.perf_counter() - t0,
    )


def _describe_optimizer(arch: Architecture) -> str:
    o = arch.optimizer
    opts = " ".join(f"{k}={v}" for k, v in o.options.items())
    return f"{o.name} lr={o.lr:g}" + (f" {opts}" if opts else "")


def relative_error(value: float, reference: float) -> float:
    """|value - reference| / reference (inf for a zero reference)."""
    return abs(value - reference) / reference if reference else math.inf

"""The dispatch-level counter: every ATen call of a pass, costed by its formula, per module."""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from harness.counting.formulas import Cost, FormulaOptions, op_name, rule_for
from harness.counting.formulas.user import load_formula_plugins
from harness.counting.jagged import has_jagged, jagged_cost
from harness.counting.tracker import ModuleTracker


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
            self.counter.sdpa_depth += 1  # what runs inside is attention, whatever its ops
            try:
                routed = self._maybe_route(args, kwargs)
                return routed if routed is not None else original(*args, **kwargs)
            finally:
                self.counter.sdpa_depth -= 1

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
        k, v = _repeat_kv_heads(q, k), _repeat_kv_heads(q, v)
        fusable = (
            all(isinstance(t, torch.Tensor) for t in (q, k, v))
            and q.dim() == 4 == k.dim() == v.dim()
            and q.shape[-1] == k.shape[-1] == v.shape[-1]
            and q.shape[1] == k.shape[1] == v.shape[1]
            and given.get("attn_mask") is None
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


def _repeat_kv_heads(q: Any, kv: Any) -> Any:
    """Grouped-query attention: K or V with its heads repeated to the query's (what SDPA's
    enable_gqa computes), so the fused causal kernel sees the same shapes; the matmul work of
    attention is per query head either way."""
    if not (isinstance(q, torch.Tensor) and isinstance(kv, torch.Tensor)):
        return kv
    if q.dim() != 4 or kv.dim() != 4 or kv.shape[1] == q.shape[1] or q.shape[1] % kv.shape[1]:
        return kv
    return kv.repeat_interleave(q.shape[1] // kv.shape[1], dim=1)


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
        load_formula_plugins()
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
        # phase -> op -> MACs counted inside F.scaled_dot_product_attention (on meta tensors
        # its math path is bmm/matmul; the fvcore comparison files them under attention)
        self.sdpa_macs: dict[str, Counter[str]] = defaultdict(Counter)
        self.sdpa_depth = 0
        self.tracker = ModuleTracker(root)
        self._route = _CausalSdpaRoute(self, route=causal_half)
        self._memo = _MEMO
        self._stack: contextlib.ExitStack | None = None
        self._depth = 0
        self._decomposing: set[Any] = set()

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
        if rule.kind == "unknown" and func not in self._decomposing:
            # an op whose decomposition calls the op itself (a subclass's method) runs as is
            self._decomposing.add(func)
            try:
                with self:
                    r = func.decompose(*args, **kwargs)
            finally:
                self._decomposing.discard(func)
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
            if has_jagged(args, kwargs, out):
                cost = jagged_cost(rule.formula, args, kwargs, out, self.opts)
            else:
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
            if self.sdpa_depth:
                self.sdpa_macs[phase][name] += cost.macs
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

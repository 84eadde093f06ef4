"""Is this exception the device (or host) running out of memory? One answer for every caller.

Running out of memory does not always raise `torch.OutOfMemoryError`:

- cuBLAS and cuDNN report a failed workspace allocation as a plain `RuntimeError`
  ("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
  "cuDNN error: CUDNN_STATUS_NOT_ALLOCATED", "CUDNN_STATUS_INTERNAL_ERROR" beside "out of
  memory"); status names from https://docs.nvidia.com/cuda/cublas/#cublasstatus-t and
  https://docs.nvidia.com/deeplearning/cudnn/latest/api/cudnn-graph-library.html#cudnnstatus-t;
- a raw CUDA call fails with "CUDA error: out of memory" (cudaErrorMemoryAllocation);
- torch.compile wraps what the compiled graph raised (`torch._dynamo.exc.BackendCompilerFailed`
  keeps it as `inner_exception` and as `__cause__`);
- the CPU allocator raises "DefaultCPUAllocator: can't allocate memory";
- `torch.OutOfMemoryError` itself is recent; `torch.cuda.OutOfMemoryError` (torch >= 1.13) is
  the same class on the versions that have both.

`is_out_of_memory` walks the chain of causes and matches the types where this torch has them
and the messages above.
"""

from __future__ import annotations

import re

import torch

# Messages of allocation failures, whatever exception type carries them.
_PATTERNS = re.compile(
    r"out of memory"  # "CUDA out of memory", "CUDA error: out of memory", "HIP out of memory"
    r"|CUBLAS_STATUS_ALLOC_FAILED"
    r"|CUBLASLT?_STATUS_ALLOC_FAILED"
    r"|CUDNN_STATUS_NOT_ALLOCATED"
    r"|CUDNN_STATUS_ALLOC_FAILED"
    r"|CUSOLVER_STATUS_ALLOC_FAILED"
    r"|CUFFT_ALLOC_FAILED"
    r"|DefaultCPUAllocator: can't allocate memory",
    re.IGNORECASE,
)


def _oom_types() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = [MemoryError]
    for owner, name in ((torch, "OutOfMemoryError"), (torch.cuda, "OutOfMemoryError")):
        t = getattr(owner, name, None)
        if isinstance(t, type) and issubclass(t, BaseException) and t not in found:
            found.append(t)
    return tuple(found)


OOM_TYPES = _oom_types()


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and what it wraps: __cause__, __context__, a compiler's `inner_exception`."""
    seen: set[int] = set()
    todo, out = [exc], []
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        out.append(e)
        inner = getattr(e, "inner_exception", None)
        for nxt in (e.__cause__, e.__context__, inner):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return out


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not hide the type check
        return ""


def is_out_of_memory(exc: BaseException) -> bool:
    """True when `exc`, or anything it was raised from, is an allocation failure."""
    return any(
        isinstance(e, OOM_TYPES) or _PATTERNS.search(_message(e)) is not None for e in _chain(exc)
    )

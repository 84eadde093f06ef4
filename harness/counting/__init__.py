"""FLOP counting: exact per-pass and training-step counts on meta tensors.

`count.count_flops` is the entry point. `formulas` costs one ATen call, `counter.FlopCounter`
costs a pass (with `tracker` for per-module attribution), `build` and `methods` run an
architecture on meta, fake or real tensors, `jagged` costs nested tensors by their real lengths,
`probes` breaks a two-stage detector's count down, `fvcore_check` (with `families`) puts
fvcore's figures beside ours, `record` holds the result, and `request` and `summary` serve
`harness flops`. `register_formula` adds a formula for a user's own operator.
"""

from harness.counting.formulas.common import Cost
from harness.counting.formulas.user import register_formula, unregister_formula

__all__ = ["Cost", "register_formula", "unregister_formula"]

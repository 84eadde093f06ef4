"""Building a 175B-parameter decoder on the meta device: wall time and peak memory.

Each model is built in a fresh child process (so one build's memory does not hide another's),
the way the counter builds it (`harness.counting.build.build_meta`: `with torch.device("meta")`).
The build time excludes importing the transformers modeling code (a tiny build first
imports it; that time is printed apart, and on a loaded machine it dominates); peak RSS is the
child's `ru_maxrss`, import included. Targets: under 10 s and under 2 GB for GPT-3 175B and Llama 2 70B.

Run: .venv/bin/python benchmarks/lm_meta_build.py [NAME ...]
"""

from __future__ import annotations

import json
import subprocess
import sys

DEFAULT = ("gpt3_175b", "llama2_70b")
CHILD = """
import json, resource, sys, time
import torch
from harness.arch.registry import get
from harness.counting.build import build_meta, param_counts
arch = get(sys.argv[1])
started = time.perf_counter()
build_meta(arch, tiny=True)  # imports the transformers modeling code: timed apart
imported = time.perf_counter() - started
started = time.perf_counter()
model = build_meta(arch, tiny=False)
seconds = time.perf_counter() - started
params = param_counts(model)[0]
on_meta = all(p.device.type == "meta" for p in model.parameters())
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
print(json.dumps({"name": arch.name, "seconds": seconds, "import_seconds": imported, "peak_rss_bytes": rss,
                  "params": params, "all_on_meta": on_meta}))
"""


def measure(name: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, name], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(names: list[str]) -> int:
    ok = True
    print(f"{'model':<14} {'params':>16} {'import s':>8} {'build s':>8} {'peak RSS':>10}  on meta")
    for name in names or DEFAULT:
        r = measure(name)
        gb = r["peak_rss_bytes"] / 1e9
        passed = r["seconds"] < 10 and gb < 2 and r["all_on_meta"]
        ok &= passed
        print(
            f"{r['name']:<14} {r['params']:>16,} {r['import_seconds']:>8.2f} {r['seconds']:>8.2f} {gb:>8.2f} GB  "
            f"{r['all_on_meta']}  {'ok' if passed else 'OVER TARGET'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

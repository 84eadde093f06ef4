"""GPU acceptance: does the harness tell the truth on this GPU? One line per check, PASS, FAIL
or SKIP, and a non-zero exit on any FAIL. No network; under 8 minutes on one GPU.

Checks (each against a second method written here, not against the harness itself):

- device mapping: a child process with CUDA_VISIBLE_DEVICES set to the last GPU (PCI order)
  writes a record whose identified GPU (`device_pci_bus_id`, `device_uuid`) is that GPU's
  PCI bus id and UUID as NVML reports them to this process;
- counts: resnet50 and BERT-base (bert_base_squad) counted with the harness's FlopCounter on
  real CUDA tensors and on real CPU tensors, against `count_flops` (meta tensors): equal MACs
  for the inference pass, the training forward and the backward;
- step time: resnet50 and BERT-base in bf16, the harness's median step against a plain
  synchronised loop (forward, loss, backward, optimizer step; perf_counter over N steps),
  within 2 %;
- host syncs: synchronising CUDA calls per step inside the harness's timed window
  (`torch.cuda.set_sync_debug_mode("warn")` on for exactly that window), at most 1;
- energy: NVML's energy counter against the integral of its 10 Hz power samples over >= 30 s
  of load, within 5 %;
- measure: `harness measure` end to end in a subprocess: exit 0, a record with provenance;
- torchrun: one rank under the harness's torchrun launcher within 3 % of the plain step;
- peak memory: efficientnet_b7's peak from the harness's timing against
  `torch.cuda.max_memory_allocated` of an independent loop, within 5 %.

`--dry-run` runs the same checks on the CPU with tiny models and short windows (CI runs it):
tolerances there are wide, because shared CPU cores do not time to 2 %, and the checks that
mean nothing without a GPU (NVML, CUDA sync mode, the CUDA allocator) say SKIP and why.

    .venv/bin/python benchmarks/gpu_acceptance.py [--dry-run] [--only NAME ...] [--out DIR]

The lines also go to reports/gpu/<device>/acceptance.txt (dry run: reports/gpu/dry-run/).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
TRACE = ROOT / "tests" / "data" / "power_constant_300w.csv"


@dataclass(frozen=True)
class Setup:
    """What the checks run with: full-size on a GPU, tiny on the CPU for --dry-run."""

    dry_run: bool
    device: str
    tiny: bool
    precision: str
    min_seconds: float
    timing_tol: float | None  # None: report the ratio, do not judge it (shared CPU cores)
    torchrun_tol: float | None
    energy_window_s: float
    resnet_batch: int
    bert_batch: int
    count_batch: int
    subprocess_timeout_s: float
    warmup_steps: int | None  # None: the harness's own warm-up rule
    min_steps: int | None

    @classmethod
    def for_gpu(cls) -> Setup:
        return cls(
            False, "cuda:0", False, "bf16", 6.0, 0.02, 0.03, 32.0, 128, 32, 2, 240.0, None, None
        )

    @classmethod
    def for_dry_run(cls) -> Setup:
        # timings are reported, not judged: on shared CPU cores a step time swings several-fold
        return cls(True, "cpu", True, "fp32", 0.2, None, None, 3.0, 2, 2, 2, 120.0, 1, 2)


@dataclass(frozen=True)
class Result:
    status: str  # PASS, FAIL or SKIP
    detail: str


def _within(a: float, b: float, tol: float | None) -> bool:
    """a and b agree to `tol` either way: max(a/b, b/a) <= 1 + tol (None: both are positive)."""
    if not (math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0):
        return False
    return tol is None or max(a / b, b / a) <= 1 + tol


def _tolerance(tol: float | None) -> str:
    return f"tolerance {tol:.0%}" if tol is not None else "dry run: reported, not judged"


def _free() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def _child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


def _record_from(stdout: str) -> dict:
    """The JSON record `harness measure --json` prints (the first '{' at a line start on)."""
    start = stdout.find("\n{") + 1 if not stdout.startswith("{") else 0
    doc = json.JSONDecoder().raw_decode(stdout[start:])[0]  # lines after it are not JSON
    return doc["records"][0] if "records" in doc else doc  # the envelope, or a bare record


# --------------------------------------------------------------------------------------------
# Device mapping
# --------------------------------------------------------------------------------------------


def check_device_mapping(s: Setup) -> Result:
    if s.dry_run:
        return Result("SKIP", "needs NVML and a GPU: UUIDs and PCI bus ids are NVIDIA's")
    from harness.hardware import nvml as hw_nvml

    with hw_nvml.session() as nv:
        last = nv.nvmlDeviceGetCount() - 1
        handle = nv.nvmlDeviceGetHandleByIndex(last)
        uuid = hw_nvml.text(nv.nvmlDeviceGetUUID(handle))
        bus = hw_nvml.text(nv.nvmlDeviceGetPciInfo(handle).busId)
    cmd = [sys.executable, "-m", "harness", "measure", "resnet18", "--tiny", "--device", "cuda"]
    cmd += ["--warmup", "1", "--steps", "2", "--min-seconds", "0", "--no-store", "--json"]
    env = _child_env(CUDA_VISIBLE_DEVICES=str(last), CUDA_DEVICE_ORDER="PCI_BUS_ID")
    done = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=s.subprocess_timeout_s
    )
    if done.returncode != 0:
        return Result("FAIL", f"child exited {done.returncode}: {done.stderr.strip()[-200:]}")
    ok, detail = same_gpu(_record_from(done.stdout), uuid, bus)
    what = f"record of CUDA_VISIBLE_DEVICES={last} vs GPU {last} (NVML): {uuid}, PCI {bus}"
    return Result("PASS" if ok else "FAIL", f"{what}: {detail}")


def _bare_uuid(uuid: str) -> str:
    """NVML writes "GPU-<uuid>", torch the bare UUID."""
    return re.sub(r"^(gpu|mig)-", "", uuid.strip().lower())


def same_gpu(record: dict, uuid: str, bus: str) -> tuple[bool, str]:
    """Whether the GPU the record names (`device_pci_bus_id`, `device_uuid` in `environment` and
    `timing.peak`) is NVML's `uuid` on `bus`: at least one id given, and every one agreeing."""
    from harness.hardware.identity import same_bus

    sections = {
        "environment": record.get("environment") or {},
        "timing.peak": (record.get("timing") or {}).get("peak") or {},
    }
    agree, differ = [], []
    for where, facts in sections.items():
        for key, ours, match in (
            ("device_pci_bus_id", bus, same_bus),
            ("device_uuid", uuid, lambda a, b: _bare_uuid(a) == _bare_uuid(b)),
        ):
            theirs = facts.get(key)
            if theirs:
                (agree if match(str(theirs), ours) else differ).append(f"{where}.{key} {theirs}")
    basis = sections["environment"].get("device_identity_basis")
    if differ:
        return False, f"the record names another GPU: {', '.join(differ)} (basis {basis})"
    if not agree:
        return False, f"the record names no PCI bus id or UUID (device_identity_basis: {basis})"
    return True, f"{', '.join(agree)} agree (basis {basis})"


# --------------------------------------------------------------------------------------------
# Counts on the device, on the CPU and on meta tensors
# --------------------------------------------------------------------------------------------


def counted_on(arch, device: str, batch_size: int, tiny: bool) -> dict[str, int]:
    """MACs per phase from the harness's FlopCounter run on real tensors on `device`."""
    from harness.counting.counter import FlopCounter

    torch.manual_seed(0)
    with torch.device(device):
        model = arch.build(tiny=tiny)
    model.to(device)
    batch = arch.example_batch(batch_size, tiny=tiny, device=device, seed=0)
    counter = FlopCounter(model)
    model.eval()
    with torch.no_grad(), counter:
        arch.forward(model, batch)
    model.train()
    counter.phase = "forward"
    with counter:
        loss = arch.training_loss(model, batch)
        counter.phase = "backward"
        counter.tracker.reset()
        loss.backward()
    out = {p: counter.total_macs(p) for p in ("inference", "forward", "backward")}
    del model, batch, loss
    _free()
    return out


def check_counts(s: Setup) -> Result:
    from harness.arch.registry import resolve
    from harness.counting.count import count_flops

    devices = ["cpu"] if s.dry_run else [s.device, "cpu"]
    parts, bad = [], []
    for name in ("resnet50", "bert_base_squad"):
        arch = resolve(name)
        fc = count_flops(arch, batch_size=s.count_batch, tiny=s.tiny, train=True)
        meta = {
            "inference": fc.forward_macs,
            "forward": fc.forward_flops // 2,
            "backward": (fc.backward_flops or 0) // 2,
        }
        runs = {d: counted_on(arch, d, s.count_batch, s.tiny) for d in devices}
        runs[f"meta ({fc.method})"] = meta
        if len({tuple(sorted(r.items())) for r in runs.values()}) != 1:
            bad.append(f"{name}: " + "; ".join(f"{d} {r}" for d, r in runs.items()))
        parts.append(f"{name} {2 * (meta['forward'] + meta['backward']) / 1e9:.3g} GFLOP fwd+bwd")
    where = " = ".join([*devices, "meta"])
    if bad:
        return Result("FAIL", "counts differ: " + " | ".join(bad))
    return Result("PASS", f"{where} for every phase: {', '.join(parts)}")


# --------------------------------------------------------------------------------------------
# Step time against a plain loop
# --------------------------------------------------------------------------------------------


def _plain_settings(device: str) -> None:
    """cuDNN autotuning on, TF32 off: what the harness sets for a bf16 or fp32 run."""
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def plain_step_time(arch, s: Setup, batch_size: int, threads: int) -> float:
    """Mean seconds per training step of a hand-written synchronised loop."""
    _plain_settings(s.device)
    torch.set_num_threads(threads)  # the harness's thread count, so both do the same work
    torch.manual_seed(0)
    with torch.device(s.device):
        model = arch.build(tiny=s.tiny)
    model.to(s.device).train()
    batch = arch.example_batch(batch_size, tiny=s.tiny, device=s.device, seed=0)
    opt = arch.optimizer.build(model.parameters())
    kind = torch.device(s.device).type
    bf16 = s.precision == "bf16"

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(kind, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            loss = arch.training_loss(model, batch)
        loss.backward()
        opt.step()

    for _ in range(s.warmup_steps or 5):
        step()
    _sync(s.device)
    t0 = time.perf_counter()
    step()
    _sync(s.device)
    least = s.min_steps or 5
    n = max(least, int(s.min_seconds / max(time.perf_counter() - t0, 1e-6)))
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    _sync(s.device)
    return (time.perf_counter() - t0) / n


def harness_timing(arch, s: Setup, batch_size: int, **extra):
    from harness.timing.request import TimingRequest
    from harness.timing.run import time_training

    request = TimingRequest(
        batch_size=batch_size,
        tiny=s.tiny,
        device=s.device,
        precision=s.precision,
        **{"min_seconds": s.min_seconds, **extra},
        warmup_steps=s.warmup_steps,
        min_steps=s.min_steps,
    )
    result = time_training(arch, request)
    _free()
    return result


def check_step_time(s: Setup) -> Result:
    from harness.arch.registry import resolve

    parts, failed = [], False
    for name, batch in (("resnet50", s.resnet_batch), ("bert_base_squad", s.bert_batch)):
        arch = resolve(name)
        r = harness_timing(arch, s, batch)
        ours = r.median_s
        plain = plain_step_time(arch, s, batch, r.threads)
        _free()
        ok = _within(ours, plain, s.timing_tol)
        failed |= not ok
        parts.append(
            f"{name} b{batch}: harness {ours * 1e3:.2f} ms vs plain {plain * 1e3:.2f} ms "
            f"({ours / plain - 1:+.1%})"
        )
    bound = _tolerance(s.timing_tol)
    return Result("FAIL" if failed else "PASS", f"{'; '.join(parts)}; {bound}")


# --------------------------------------------------------------------------------------------
# Host synchronisations per step
# --------------------------------------------------------------------------------------------


class SyncWatch:
    """A timing-window monitor: CUDA's sync debug mode is on for exactly the timed steps, and
    every synchronising call it reports there is kept."""

    def __init__(self) -> None:
        self.syncs: list[warnings.WarningMessage] = []
        self._catch: warnings.catch_warnings | None = None

    def begin_window(self, name: str) -> None:
        self._catch = warnings.catch_warnings(record=True)
        self.seen = self._catch.__enter__()
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")

    def end_window(self, name: str) -> None:
        torch.cuda.set_sync_debug_mode("default")
        if self._catch is not None:
            self._catch.__exit__(None, None, None)
            self._catch = None
        self.syncs = [w for w in self.seen if "synchroniz" in str(w.message).lower()]


def check_host_syncs(s: Setup, bound: float = 1.0) -> Result:
    if s.dry_run:
        return Result("SKIP", "sync debug mode reports CUDA synchronisations; the CPU has none")
    from harness.arch.registry import resolve
    from harness.timing.request import TimingRequest
    from harness.timing.run import time_training

    watch = SyncWatch()
    request = TimingRequest(
        batch_size=s.resnet_batch, device=s.device, precision=s.precision, min_seconds=2.0
    )
    try:
        r = time_training(resolve("resnet50"), request, monitor=watch)
    finally:
        torch.cuda.set_sync_debug_mode("default")
        _free()
    steps = len(r.samples_s)
    per_step = len(watch.syncs) / steps
    where = sorted({f"{Path(w.filename).name}:{w.lineno}" for w in watch.syncs})[:4]
    detail = f"{len(watch.syncs)} synchronising calls in the timed window of {steps} steps"
    detail += f" = {per_step:.2f} per step (bound {bound:g})"
    detail += f"; at {', '.join(where)}" if where else ""
    return Result("PASS" if per_step <= bound else "FAIL", detail)


# --------------------------------------------------------------------------------------------
# Energy: counter against integrated samples
# --------------------------------------------------------------------------------------------


def _load(device: str, seconds: float) -> None:
    """Matrix products until `seconds` have passed (the GPU busy, not idle)."""
    cuda = device.startswith("cuda")
    n, dtype = (8192, torch.bfloat16) if cuda else (256, torch.float32)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = a.T.contiguous()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(20):
            (a @ b).sum()
        _sync(device)


def check_energy(s: Setup, tol: float = 0.05) -> Result:
    from harness.energy import make_energy_monitor

    if s.dry_run:
        mon = make_energy_monitor("cuda:0", backends=["replay"], trace=TRACE, idle_s=0.0)
        what = f"replayed NVML trace ({TRACE.name})"
    else:
        mon = make_energy_monitor(s.device, backends=["nvml"], sample_hz=10.0, idle_s=0.0)
        what = "NVML"
    with mon:
        mon.begin_window("acceptance load")
        _load(s.device, s.energy_window_s)
        m = mon.end_window("acceptance load")
    counter, sampled = m.counter_energy_j, m.sampled_energy_j
    if counter is None or sampled is None:
        return Result("FAIL", f"{what}: counter {counter} J, samples {sampled} J ({m.reason})")
    ok = _within(sampled, counter, tol) and m.duration_s >= s.energy_window_s * 0.95
    return Result(
        "PASS" if ok else "FAIL",
        f"{what} over {m.duration_s:.1f} s: counter {counter:.1f} J vs 10 Hz samples "
        f"{sampled:.1f} J ({sampled / counter - 1:+.2%}, tolerance {tol:.0%}); "
        f"provenance {m.provenance}",
    )


# --------------------------------------------------------------------------------------------
# harness measure, end to end
# --------------------------------------------------------------------------------------------


def check_measure(s: Setup) -> Result:
    from harness.vocab import PROVENANCES

    device = "cpu" if s.dry_run else "cuda"
    cmd = [sys.executable, "-m", "harness", "measure", "resnet18", "--device", device]
    cmd += ["--tiny"] * s.tiny + ["--precision", s.precision, "--batch", "2"]
    cmd += ["--warmup", "1", "--steps", "3", "--min-seconds", str(s.min_seconds), "--json"]
    with tempfile.TemporaryDirectory(prefix="acceptance-") as tmp:
        cmd += ["--db", str(Path(tmp) / "results.sqlite")]
        env = _child_env(HARNESS_REPORTS_DIR=str(Path(tmp) / "reports"))
        done = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=s.subprocess_timeout_s
        )
    if done.returncode != 0:
        return Result("FAIL", f"exit {done.returncode}: {done.stderr.strip()[-200:]}")
    rec = _record_from(done.stdout)
    energy, env_facts = rec.get("energy") or {}, rec.get("environment") or {}
    missing = [
        k
        for k, ok in (
            ("status ok", rec.get("status") == "ok"),
            ("key", bool(rec.get("key"))),
            ("energy provenance", energy.get("provenance") in PROVENANCES),
            ("torch version", bool(env_facts.get("torch"))),
            ("device identity", bool(env_facts.get("device_identity"))),
            ("step time", bool((rec.get("timing") or {}).get("median_s"))),
        )
        if not ok
    ]
    if missing:
        return Result("FAIL", f"record lacks: {', '.join(missing)}")
    return Result(
        "PASS",
        f"exit 0; record {rec['key'][:12]}, energy provenance {energy['provenance']}, "
        f"{env_facts['device_identity']}, torch {env_facts['torch']}",
    )


# --------------------------------------------------------------------------------------------
# One rank under torchrun against the plain path
# --------------------------------------------------------------------------------------------


def check_torchrun(s: Setup) -> Result:
    from harness.arch.registry import resolve
    from harness.launch.torchrun import TorchrunPlan, launch
    from harness.pipeline.config import MeasurementConfig

    arch_name, batch = "resnet50", s.resnet_batch
    plain = harness_timing(resolve(arch_name), s, batch).median_s
    config = MeasurementConfig(
        architecture=arch_name,
        batch_size=batch,
        tiny=s.tiny,
        device="cpu" if s.dry_run else "cuda",
        precision=s.precision,
        warmup_steps=s.warmup_steps or 3,
        min_steps=s.min_steps or 5,
        min_seconds=s.min_seconds,
    )
    plan = TorchrunPlan(nproc_per_node=1, timeout_s=s.subprocess_timeout_s)
    record = launch(config, plan)
    if record is None or record.status != "ok":
        why = record.error if record is not None else "no record from rank 0"
        return Result("FAIL", f"torchrun with 1 rank failed: {why}")
    dist = record.timing["distributed"]
    ranked = dist["slowest_rank_median_s"]
    ok = _within(ranked, plain, s.torchrun_tol)
    return Result(
        "PASS" if ok else "FAIL",
        f"{arch_name} b{batch}: 1 rank {ranked * 1e3:.2f} ms vs plain {plain * 1e3:.2f} ms "
        f"({ranked / plain - 1:+.1%}, {_tolerance(s.torchrun_tol)}); backend "
        f"{dist['backend']}, scaling efficiency {dist['scaling_efficiency']:.3f}",
    )


# --------------------------------------------------------------------------------------------
# Peak memory against an independent loop
# --------------------------------------------------------------------------------------------


def independent_peak_bytes(arch, s: Setup, batch_size: int, steps: int = 3) -> int:
    """torch.cuda.max_memory_allocated over model, optimizer and a few training steps."""
    _free()
    _plain_settings(s.device)
    torch.cuda.reset_peak_memory_stats(s.device)
    torch.manual_seed(0)
    with torch.device(s.device):
        model = arch.build(tiny=s.tiny)
    model.to(s.device).train()
    batch = arch.example_batch(batch_size, tiny=s.tiny, device=s.device, seed=0)
    opt = arch.optimizer.build(model.parameters())
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = arch.training_loss(model, batch)
        loss.backward()
        opt.step()
    torch.cuda.synchronize(s.device)
    peak = int(torch.cuda.max_memory_allocated(s.device))
    del model, batch, opt, loss
    _free()
    return peak


def check_peak_memory(s: Setup, tol: float = 0.05, batch: int = 8) -> Result:
    if s.dry_run:
        return Result(
            "SKIP",
            "the CPU peak is the process's resident set, which a second loop in the "
            "same process cannot reset; the check is of the CUDA allocator's peak",
        )
    from harness.arch.registry import resolve

    arch = resolve("efficientnet_b7")
    # cuDNN's autotuning allocates trial workspaces the first time a shape is seen: a first
    # run fills its cache, so neither measured run below pays for it
    first = harness_timing(arch, s, batch, min_seconds=1.0)
    theirs = independent_peak_bytes(arch, s, first.batch_size)
    r = harness_timing(arch, s, first.batch_size, min_seconds=1.0)
    ours = r.peak_memory_bytes
    if ours is None:
        return Result("FAIL", "the harness reported no peak memory")
    ok = _within(ours, theirs, tol)
    return Result(
        "PASS" if ok else "FAIL",
        f"efficientnet_b7 b{r.batch_size}: harness {ours / 2**30:.2f} GiB "
        f"({r.peak_memory_source}) vs independent {theirs / 2**30:.2f} GiB "
        f"({ours / theirs - 1:+.1%}, tolerance {tol:.0%})",
    )


# --------------------------------------------------------------------------------------------
# Running the checks
# --------------------------------------------------------------------------------------------

CHECKS: dict[str, Callable[[Setup], Result]] = {
    "device-mapping": check_device_mapping,
    "counts": check_counts,
    "step-time": check_step_time,
    "host-syncs": check_host_syncs,
    "energy": check_energy,
    "measure": check_measure,
    "torchrun": check_torchrun,
    "peak-memory": check_peak_memory,
}


def run_check(name: str, s: Setup) -> Result:
    t0 = time.perf_counter()
    try:
        r = CHECKS[name](s)
    except Exception as exc:  # a crash is a failed check, named, and the others still run
        msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        r = Result("FAIL", f"{type(exc).__name__}: {msg}")
    return Result(r.status, f"{r.detail} [{time.perf_counter() - t0:.1f} s]")


def _out_dir(args: argparse.Namespace) -> Path:
    if args.out:
        return Path(args.out)
    from harness.paths import reports_dir

    if args.dry_run:
        return reports_dir() / "gpu" / "dry-run"
    slug = re.sub(r"[^A-Za-z0-9]+", "_", torch.cuda.get_device_name(0)).strip("_")
    return reports_dir() / "gpu" / slug


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dry-run", action="store_true", help="CPU, tiny models, short windows")
    p.add_argument("--only", nargs="+", choices=list(CHECKS), help="run only these checks")
    p.add_argument("--out", default=None, help="folder for acceptance.txt")
    args = p.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_acceptance: no CUDA device here; run with --dry-run for the CPU analogue")
        return 2
    s = Setup.for_dry_run() if args.dry_run else Setup.for_gpu()
    head = f"GPU acceptance ({'dry run, CPU' if s.dry_run else torch.cuda.get_device_name(0)})"
    lines = [f"{head}, torch {torch.__version__}"]
    print(lines[0], flush=True)
    results = {}
    for name in args.only or list(CHECKS):
        r = results[name] = run_check(name, s)
        lines.append(f"{r.status:4s}  {name}: {r.detail}")
        print(lines[-1], flush=True)
    failed = [n for n, r in results.items() if r.status == "FAIL"]
    lines.append(
        f"{len(failed)} failed of {len(results)}" + (f": {', '.join(failed)}" * bool(failed))
    )
    print(lines[-1])
    out = _out_dir(args)
    out.mkdir(parents=True, exist_ok=True)
    (out / "acceptance.txt").write_text("\n".join(lines) + "\n")
    print(f"written: {out / 'acceptance.txt'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Worker targets for the runner's tests: each behaves like a measurement that goes one way.

A target is called in a worker process as `fn(config, phase=callback) -> Measurement`; these
never import torch, so a worker starts in a fraction of a second. `by_architecture` picks the
behaviour from the configuration's architecture name ("fake-ok", "fake-raise", ...), so one
sweep can mix them. Run as a script, this file is a small sweep for the SIGKILL test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.pipeline.config import MeasurementConfig
from harness.pipeline.record import Measurement

HERE = Path(__file__).resolve()
FAKE_GPU_ENV = "FAKE_GPU_NAME"

if os.environ.get(FAKE_GPU_ENV):  # a fake GPU's name, so a cuda key needs no torch import
    from harness.hardware import nvml as _nvml

    _nvml.gpu_names = lambda: [os.environ[FAKE_GPU_ENV]]


def target(name: str) -> str:
    """The runner's target spec for a function of this file."""
    return f"{HERE}:{name}"


def expected_macs(config: MeasurementConfig) -> int:
    return 1000 * config.batch_size


def succeed(config: MeasurementConfig, phase=None) -> Measurement:
    """Takes `min_seconds`, reports two phases, returns a record with known numbers.
    With FAKE_PID_DIR set, leaves its pid there (tests check that workers die)."""
    if os.environ.get("FAKE_PID_DIR"):
        (Path(os.environ["FAKE_PID_DIR"]) / str(os.getpid())).write_text(str(os.getpid()))
    if phase:
        phase("build")
    time.sleep(config.min_seconds / 2)
    if phase:
        phase("timing")
    time.sleep(config.min_seconds / 2)
    return Measurement.create(
        config,
        architecture={"name": config.architecture, "domain": "test"},
        environment={"pid": os.getpid()},
        counts={"forward_macs_per_example": expected_macs(config), "method": "fake"},
        timing={"median_s": 0.5 * config.batch_size, "samples_s": [0.5, 0.5], "noisy": False},
        energy={"total_energy_j": None, "provenance": "unavailable", "by_device": {"0": 1.5}},
        burden={"hardware_burden_flop": 2.0e12 * config.batch_size},
    )


def quick(config: MeasurementConfig, phase=None) -> Measurement:
    """`succeed` without the wait: for sweeps that only need rows."""
    return succeed(config.replace(min_seconds=0.0), phase)


def record_env(config: MeasurementConfig, phase=None) -> Measurement:
    """Appends this worker's pool environment and its start and end times to the file
    $FAKE_ENV_LOG names, one JSON line per worker, then behaves like `succeed`."""
    import json

    start = time.time()
    rec = succeed(config, phase)
    seen = {k: os.environ.get(k) for k in POOL_ENV}
    line = {"key": config.key(), "start": start, "end": time.time(), "pid": os.getpid(), **seen}
    with open(os.environ["FAKE_ENV_LOG"], "a") as f:
        f.write(json.dumps(line) + "\n")
    return rec


POOL_ENV = ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "HARNESS_GPUS_IN_USE", "HARNESS_POOL_SLOT")


def raise_error(config: MeasurementConfig, phase=None) -> Measurement:
    if phase:
        phase("counting")
    raise RuntimeError("fake failure\nsecond line that must not reach the row")


def hang(config: MeasurementConfig, phase=None) -> Measurement:
    if phase:
        phase("timing")
    time.sleep(3600)
    raise AssertionError("unreachable")


def hang_with_grandchild(config: MeasurementConfig, phase=None) -> Measurement:
    """Starts a grandchild that would outlive a worker killed alone; its pid goes to a file."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    Path(os.environ["FAKE_GRANDCHILD_PID_FILE"]).write_text(str(child.pid))
    if phase:
        phase("timing")
    time.sleep(3600)
    raise AssertionError("unreachable")


def abort(config: MeasurementConfig, phase=None) -> Measurement:
    if phase:
        phase("build")
    print("about to abort", file=sys.stderr, flush=True)
    os.abort()


def sigkill_self(config: MeasurementConfig, phase=None) -> Measurement:
    """What the out-of-memory killer does."""
    if phase:
        phase("timing")
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(10)
    raise AssertionError("unreachable")


def exit_nonzero(config: MeasurementConfig, phase=None) -> Measurement:
    print("RuntimeError: something broke in C code", file=sys.stderr, flush=True)
    os._exit(3)


def noisy_big(config: MeasurementConfig, phase=None) -> Measurement:
    """Prints to stdout (must not corrupt the result channel) and returns a large record."""
    for i in range(2000):
        print(f'{{"record": "not a record {i}"}}')
    rec = succeed(config.replace(min_seconds=0.0), phase)
    samples = [i * 1e-3 for i in range(100_000)]  # ~1 MB of JSON: more than a pipe buffer
    return rec.replace(timing={**rec.timing, "samples_s": samples})


def hang_after_result(config: MeasurementConfig, phase=None) -> Measurement:
    """Returns a record, but a forgotten non-daemon thread keeps the process alive."""
    import threading

    threading.Thread(target=time.sleep, args=(3600,), daemon=False).start()
    return succeed(config, phase)


def wrong_key(config: MeasurementConfig, phase=None) -> Measurement:
    return succeed(config, phase).replace(key="not-the-key")


BEHAVIOURS = {
    "fake-ok": succeed,
    "fake-raise": raise_error,
    "fake-hang": hang,
    "fake-abort": abort,
    "fake-kill": sigkill_self,
    "fake-exit": exit_nonzero,
}


def by_architecture(config: MeasurementConfig, phase=None) -> Measurement:
    return BEHAVIOURS[config.architecture](config, phase)


def sweep_configs(n: int, seconds: float) -> list[MeasurementConfig]:
    return [
        MeasurementConfig("fake-ok", batch_size=b, min_seconds=seconds) for b in range(1, n + 1)
    ]


def main(argv: list[str]) -> int:
    """`python fake_jobs.py DB N SECONDS [WORKERS]`: a sweep of N fake measurements into DB
    (across a pool of WORKERS CPU slots where given)."""
    from harness.sweep.loop import run_sweep
    from harness.sweep.slots import cpu_slots

    db, n, seconds = argv[0], int(argv[1]), float(argv[2])
    slots = cpu_slots(int(argv[3])) if len(argv) > 3 else None
    result = run_sweep(
        sweep_configs(n, seconds),
        db,
        target=target("succeed"),
        timeout_s=60,
        progress=False,
        slots=slots,
    )
    print(result.summary(), flush=True)
    return 0 if not result.failed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Two torchrun agents meeting through c10d rendezvous, as two nodes would under `srun`:
each starts one gloo rank of `harness measure --distributed`, and rank 0 stores one record
that names both ranks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from harness.sweep.store import ResultStore

MODEL = """
import torch.nn as nn

def net():
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 4))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def agent(model, db, port: int, env: dict) -> subprocess.Popen:
    """What `srun` starts once per node (the README's line, with localhost for $MASTER)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node"]
    cmd += ["1", "--rdzv-backend", "c10d", "--rdzv-endpoint", f"localhost:{port}"]
    cmd += ["--rdzv-id", "harness-test", "-m", "harness", "measure", f"{model}:net"]
    cmd += ["--input-shape", "1,3,8,8", "--device", "cpu", "--batch", "4", "--steps", "3"]
    cmd += ["--warmup", "1", "--min-seconds", "0", "--distributed", "--backend", "gloo"]
    cmd += ["--db", str(db), "--json"]
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=db.parent,  # a rank started by a user's torchrun keeps its status files here
    )


@pytest.mark.slow  # about 20-30 s: two agents, two ranks, three timed DDP phases
def test_two_agents_through_c10d_rendezvous_give_one_record(tmp_path):
    model = tmp_path / "mn_net.py"
    model.write_text(textwrap.dedent(MODEL))
    db = tmp_path / "r.sqlite"
    env = dict(os.environ, HARNESS_REPORTS_DIR=str(tmp_path / "reports"), OMP_NUM_THREADS="1")
    port = free_port()
    agents = [agent(model, db, port, env) for _ in range(2)]
    outs = [a.communicate(timeout=240) for a in agents]
    for a, (_, err) in zip(agents, outs, strict=True):
        assert a.returncode == 0, err[-3000:]
    printed = [json.loads(out) for out, _ in outs if out.strip()]
    assert len(printed) == 1  # rank 0's agent prints the record; rank 1's prints nothing
    d = printed[0]["records"][0]["timing"]["distributed"]
    assert d["world_size"] == 2 and {r["rank"] for r in d["per_rank"]} == {0, 1}
    assert d["global_batch"] == 8
    with ResultStore(db, readonly=True) as store:
        (rec,) = store.load()
    assert rec.ok and rec.config["world_size"] == 2
    assert {p.name for p in tmp_path.glob("rank-*.json")} == {"rank-0.json", "rank-1.json"}

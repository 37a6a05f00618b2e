"""Quantizers under DDP: two gloo processes end with identical codebooks (issue 12).

Slow (two processes that import torch and train three models: ~35 s on 2 loaded cores).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_quantize_worker.py")
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(r), "2", str(port), str(out / f"rank{r}.pt")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for r in range(2)
    ]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-3000:]
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)]


@pytest.mark.parametrize("run", ["rqvae", "rqvae_ema", "reso"])
def test_codebooks_identical_across_ranks(ranks, run):
    a, b = ranks[0][run], ranks[1][run]
    keys = [k for k in a if k.endswith(("codebook", "cluster_size", "embed_sum"))]
    assert keys and set(a) == set(b)
    for key in keys:
        assert torch.equal(a[key], b[key]), f"{run}: {key} differs across ranks"
    assert all(bool(a[k]) for k in a if k.endswith("initialized"))


def test_control_without_collectives_drifts(ranks):
    a, b = ranks[0]["control"], ranks[1]["control"]
    assert any(not torch.equal(a[k], b[k]) for k in a if k.endswith("codebook"))

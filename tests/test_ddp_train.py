"""``python train.py trainer=ddp trainer.accelerator=cpu trainer.devices=2``, end to end (issue 12).

Two CPU processes (gloo) train each model for 20 steps; the checkpoint loads with
``weights_only=True``; ResoFormer (an LM with quantizer state: the collapse branch) resumes from
``last.ckpt`` to step 24. Slow: each launch starts two Python processes (~1-2 min on 2 loaded
cores).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
DDP = [
    "trainer=ddp",
    "trainer.accelerator=cpu",
    "trainer.devices=2",
    "trainer.val_check_interval=10",
    "trainer.limit_val_batches=2",
    "trainer.num_sanity_val_steps=0",
    "logger=csv",
    "callbacks.progress_bar=none",
]
LM = ["system.sample_tokens=0", "data.block_size=64"]
MODELS = {
    "gpt2": LM,
    "resoformer": [*LM, "model=resoformer"],
    "rqvae": ["experiment=rqvae_digits", "trainer.val_check_interval=5"],
}


def train(tmp_path: Path, overrides: list[str]) -> Path:
    """Run train.py under DDP; returns the run's output directory."""
    cmd = [sys.executable, "train.py", *DDP, f"paths.log_dir={tmp_path}", *overrides]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    dirs = re.findall(r"^output_dir: (.+)$", res.stdout, flags=re.M)
    assert dirs, res.stdout[-2000:]
    return Path(dirs[-1])


def checkpoint(run: Path) -> dict:
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)  # nothing unpickled
    assert ckpt["hyper_parameters"] and ckpt["state_dict"]
    return ckpt


@pytest.mark.parametrize("name", sorted(MODELS))
def test_ddp_train_and_resume(tmp_path, name):
    run = train(tmp_path / "first", [*MODELS[name], "trainer.max_steps=20"])
    first = checkpoint(run)
    assert first["global_step"] == 20
    if name == "gpt2":
        from polytok.systems.lm import LanguageModelSystem

        LanguageModelSystem.load_from_checkpoint(
            run / "checkpoints" / "last.ckpt", weights_only=True
        )
        assert (run / "pretrained" / "model.safetensors").is_file()  # rank 0 wrote it once
        return
    resumed = train(
        tmp_path / "resumed",
        [*MODELS[name], "trainer.max_steps=24", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}"],
    )
    second = checkpoint(resumed)
    assert second["global_step"] == 24
    flags = [v for k, v in second["state_dict"].items() if k.endswith("initialized")]
    assert flags and all(bool(f) for f in flags)  # quantizer state came back with the weights

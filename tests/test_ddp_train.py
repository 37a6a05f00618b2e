"""``python train.py trainer=ddp trainer.accelerator=cpu trainer.devices=2``, end to end (issue 12).

Two CPU processes (gloo) train each model (GPT-2, ResoFormer, RQ-VAE, and the glyph adaptation run
``experiment=glyph_adapt`` on a tiny exported Hugging Face GPT-2) for 20 steps; the checkpoint loads with
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


@pytest.fixture(scope="module")
def glyph_base(tmp_path_factory):
    """A tiny local HF GPT-2, a text file and a small tape (as tests/glyph/test_glyph_adapt_task)."""
    from polytok.embed import StaticEmbedder
    from polytok.glyph.build import TapeBuildConfig, build_tape
    from polytok.models.gpt2 import GPT2LM, GPT2LMConfig
    from polytok.models.hf_export import export_hf

    root = tmp_path_factory.mktemp("glyph")
    play = "ROMEO: But soft, what light through yonder window breaks?\nJULIET: O Romeo, Romeo!\n"
    torch.manual_seed(0)
    model = GPT2LM(GPT2LMConfig(dim=16, num_layers=1, num_heads=2, max_positions=64))
    with torch.no_grad():  # a non-degenerate final LayerNorm: the merged export folds into it
        model.net.transformer.ln_f.bias.normal_(0, 0.5)
    base = export_hf(model, root / "base")
    (root / "play.txt").write_text("".join(f"Act {i}, line {i}: {play}" for i in range(60)))
    build_tape([play * 20], root / "t.db", "gpt2", TapeBuildConfig(num_glyphs=30),
               embedder=StaticEmbedder())  # fmt: skip
    return root, base


def test_ddp_glyph_adaptation_run(tmp_path, glyph_base):
    root, base = glyph_base
    run = train(
        tmp_path,
        [
            "experiment=glyph_adapt", f"model.path={base}", f"tape={root / 't.db'}",
            "data=text_files", f"data.source.paths=[{root / 'play.txt'}]", "data.block_size=8",
            "data.batch_size=2", f"data.cache_dir={root / 'cache'}", "system.max_steps=20",
            "trainer.max_steps=20", "system.sample_tokens=0",
        ],
    )  # fmt: skip
    assert checkpoint(run)["global_step"] == 20
    assert (run / "merged" / "config.json").is_file()  # rank 0 wrote the merged model

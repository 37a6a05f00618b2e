"""``python train.py experiment=glyph_adapt`` end to end on a tiny Hugging Face GPT-2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from polytok.glyph.build import TapeBuildConfig, build_tape
from polytok.models.gpt2 import GPT2LM, GPT2LMConfig
from polytok.models.hf_export import export_hf

ROOT = Path(__file__).resolve().parents[2]
PLAY = (
    "ROMEO: But soft, what light through yonder window breaks?\n"
    "JULIET: O Romeo, Romeo, wherefore art thou Romeo?\n"
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("adapt")
    torch.manual_seed(0)
    model = GPT2LM(GPT2LMConfig(dim=16, num_layers=1, num_heads=2, max_positions=64))
    with torch.no_grad():
        model.net.transformer.ln_f.bias.normal_(0, 0.5)
    base = export_hf(model, root / "base")
    (root / "play.txt").write_text(
        "".join(f"Act {i * 37 % 101}, line {i}: {PLAY}" for i in range(60))
    )
    build_tape(
        [PLAY * 20], root / "t.db", "gpt2", TapeBuildConfig(num_glyphs=30), embedder=embedder
    )
    return root, base


def _cfg(root, base, out, *extra):
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from test_run import make_cfg

    overrides = [
        "experiment=glyph_adapt",
        f"model.path={base}",
        f"tape={root / 't.db'}",
        "data=text_files",
        f"data.source.paths=[{root / 'play.txt'}]",
        "data.block_size=8",
        "data.batch_size=2",
        f"data.cache_dir={root / 'cache'}",
        "system.max_steps=2",
        "system.sample_tokens=0",
        "trainer.val_check_interval=2",
        "trainer.limit_val_batches=1",
        "trainer.num_sanity_val_steps=0",
        "callbacks.progress_bar=none",
        *extra,
    ]
    return make_cfg("train", overrides, out)


@pytest.mark.slow
def test_lora_run_writes_adapter_merged_and_checkpoint(setup, tmp_path):
    from polytok.models.hf_causal import model_fingerprint
    from polytok.run import train
    from polytok.systems import LanguageModelSystem

    root, base = setup
    own = tmp_path / "base"
    shutil.copytree(base, own)
    result = train(_cfg(root, own, tmp_path / "run", "adapter=lora"))
    assert (Path(result["adapter_dir"]) / "adapter_model.safetensors").is_file()
    assert (Path(result["merged_dir"]) / "hybrid_tokenizer" / "tape.db").is_file()
    ckpt = torch.load(result["best_ckpt"], map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["model"]["base_fingerprint"] == model_fingerprint(own)
    assert ckpt["hyper_parameters"]["lr"] == 2.0e-3  # the lora recipe
    system = LanguageModelSystem.load_from_checkpoint(result["best_ckpt"], weights_only=True)
    assert system.model.config.adapter == "lora"
    shutil.move(own, tmp_path / "elsewhere")
    with pytest.raises(FileNotFoundError, match="no longer exists"):
        LanguageModelSystem.load_from_checkpoint(result["best_ckpt"], weights_only=True)


@pytest.mark.parametrize(
    "extra, exc, match",
    [
        (["adapter=prefix"], ValueError, "unknown adapter"),
        (["init=zeros"], ValueError, "unknown init"),
        (["adapter=lora", "model.lora_targets=[q_proj]"], ValueError, "c_attn"),
        (["model.path=gpt2"], ValueError, "hub name"),
    ],
)
def test_bad_input_writes_nothing(setup, tmp_path, extra, exc, match):
    from polytok.run import train

    root, base = setup
    out = tmp_path / "run"
    out.mkdir()
    (out / ".hydra").mkdir()  # what Hydra writes before our code runs
    with pytest.raises(exc, match=match):
        train(_cfg(root, base, out, *extra))
    assert not out.exists()

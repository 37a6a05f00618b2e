"""ResoFormer through the Hydra entry points: train, `eval.py ckpt_path=...` and generation."""

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from polytok.reso.model import ResoFormer
from polytok.reso.primes import PrimeTokenizer
from polytok.run import evaluate, train

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SMALL = [
    "model.dim=32",
    "model.num_heads=2",
    "model.num_layers=2",
    "data.block_size=32",
    "data.batch_size=4",
    "model.max_positions=32",
    "+model.code_dim=8",
    "model.resonant_dim=8",
    "model.rotary_dim=4",
]


def make_cfg(config_name, overrides, out):
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        del cfg["hydra"]
    return cfg


@pytest.mark.slow
def test_reso_experiment_trains_evaluates_and_generates(tmp_path):
    out = tmp_path / "run"
    overrides = [
        "experiment=reso_shakespeare",
        "tokenizer=prime",
        "model.halting=true",
        "system.max_steps=6",
        "system.warmup_steps=2",
        "system.lr_schedule=golden",
        "system.grad_clip=0.618",
        "trainer.val_check_interval=3",
        "trainer.limit_val_batches=2",
        "system.sample_tokens=5",
        "callbacks.progress_bar=none",
        *SMALL,
    ]
    result = train(make_cfg("train", overrides, out))
    metrics = result["metrics"]
    assert {"val/loss", "val/gate_mean", "val/code_perplexity"} <= set(metrics)
    for ckpt in (result["best_ckpt"], result["last_ckpt"]):
        assert "state_dict" in torch.load(ckpt, weights_only=True)

    import polytok

    lm = polytok.from_pretrained(out / "pretrained")
    assert isinstance(lm.model, ResoFormer) and lm.model.config.halting
    assert isinstance(lm.tokenizer, PrimeTokenizer)
    text = lm.generate("ROMEO:", 8, entropy_target=1.5, top_k=10)
    assert isinstance(text, str) and len(text) > 0

    ev = make_cfg(
        "eval",
        [
            f"ckpt_path={result['last_ckpt']}",
            "max_new_tokens=5",
            "prompt=ROMEO:",
            "+trainer.limit_test_batches=2",
        ],
        tmp_path / "eval",
    )
    report = evaluate(ev)
    assert {"test/loss", "test/bpb", "test/ppl"} <= set(report["metrics"])
    assert report["samples"]["ROMEO:"] is not None

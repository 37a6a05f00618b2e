"""Hydra entry points: every config composes, every experiment runs one fast_dev_run step, and
bad input fails before any training work without leaving a run directory behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from polytok.run import evaluate, train
from polytok.tasks import EVAL_TASKS, TRAIN_TASKS

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
SMALL = [
    "model.dim=32",
    "model.num_layers=1",
    "model.num_heads=2",
    "data.block_size=32",
    "data.batch_size=4",
]


def make_cfg(config_name: str, overrides: list[str], out: Path):
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        del cfg["hydra"]
    return cfg


def test_train_and_eval_configs_compose(tmp_path):
    cfg = make_cfg("train", [], tmp_path)
    assert cfg.task == "lm" and cfg.model.name == "gpt2" and cfg.tokenizer.name == "char"
    assert cfg.trainer.max_steps == cfg.system.max_steps
    cfg = make_cfg("eval", [], tmp_path)
    assert cfg.task == "lm" and cfg.ckpt_path is None


@pytest.mark.parametrize(
    "group", ["trainer", "logger", "model", "data", "tokenizer", "hparams_search"]
)
def test_every_group_option_composes(group, tmp_path):
    for option in sorted((CONFIGS / group).glob("*.yaml")):
        make_cfg("train", [f"{group}={option.stem}"], tmp_path)


# need a pretrained base directory (model.path): run end to end in tests/glyph/test_glyph_adapt_task.py
NEEDS_BASE_MODEL = {"glyph_adapt", "glyph_adaptation"}


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_fast_dev_run(experiment, tmp_path):
    if experiment in NEEDS_BASE_MODEL:
        pytest.skip("needs model.path: covered by tests/glyph/test_glyph_adapt_task.py")
    cfg = make_cfg("train", [f"experiment={experiment}"], tmp_path)
    if cfg.get("task", "lm") in TRAIN_TASKS:
        cfg = make_cfg("train", [f"experiment={experiment}", "debug=fast_dev_run"], tmp_path)
        result = train(cfg)
        assert result["metrics"], f"{experiment}: no metric logged"
    else:
        cfg = make_cfg("eval", [f"experiment={experiment}", "debug=fast_dev_run"], tmp_path)
        assert cfg.task in EVAL_TASKS
        evaluate(cfg)


def test_short_run_exports_and_eval(tmp_path):
    out = tmp_path / "run"
    cfg = make_cfg(
        "train", ["debug=short", "system.max_steps=8", "trainer.val_check_interval=4", *SMALL], out
    )
    result = train(cfg)
    best, last = Path(result["best_ckpt"]), Path(result["last_ckpt"])
    assert best.name == "best.ckpt" and last.name == "last.ckpt"
    for ckpt in (best, last):  # primitives only: loads without unpickling code
        assert "state_dict" in torch.load(ckpt, weights_only=True)
    assert json.loads((out / "metrics.json").read_text())["pretrained"] == str(out / "pretrained")
    assert list((out / "tensorboard").rglob("events.out.tfevents.*"))

    import polytok

    lm = polytok.from_pretrained(out / "pretrained")
    assert isinstance(lm.generate("ROMEO:", 5), str)

    ev = make_cfg(
        "eval",
        [f"ckpt_path={last}", "max_new_tokens=5", "prompt=ROMEO:", "+trainer.limit_test_batches=4"],
        tmp_path / "eval",
    )
    report = evaluate(ev)
    assert set(report["metrics"]) >= {"test/loss", "test/bpb", "test/ppl"}
    assert json.loads((tmp_path / "eval" / "eval.json").read_text())["samples"]["ROMEO:"]


def _fails_clean(config_name, overrides, tmp_path, exc, match):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".hydra").mkdir()  # what Hydra writes before our code runs
    cfg = make_cfg(config_name, overrides, out)
    with pytest.raises(exc, match=match):
        (train if config_name == "train" else evaluate)(cfg)
    assert not out.exists(), "a failed preflight must not leave a run directory"


@pytest.mark.parametrize(
    "overrides, exc, match",
    [
        (["tokenizer.name=gpt5"], ValueError, "gpt2"),
        (["model.name=gpt5"], ValueError, "valid names"),
        (["data.block_size=512"], ValueError, "block_size"),
        (
            ["data=text_files", "data.source.paths=[/nonexistent/*.txt]"],
            FileNotFoundError,
            "nonexistent",
        ),
    ],
)
def test_bad_training_input(overrides, exc, match, tmp_path):
    _fails_clean("train", overrides, tmp_path, exc, match)


def test_empty_corpus(tmp_path):
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.txt").write_text("")
    _fails_clean(
        "train",
        ["data=text_files", f"data.source.paths=[{tmp_path}/*.txt]"],
        tmp_path,
        ValueError,
        "empty",
    )


def test_eval_needs_ckpt_path(tmp_path):
    _fails_clean("eval", [], tmp_path, ValueError, "ckpt_path=")


def test_corrupt_checkpoint(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    _fails_clean("eval", [f"ckpt_path={bad}"], tmp_path, ValueError, "corrupt")


@pytest.mark.slow
def test_cli_sweep_and_resume(tmp_path):
    logs = tmp_path / "logs"
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "model.dim=32,48",
        "seed=0,1",
        "debug=short",
        "system.max_steps=4",
        "trainer.val_check_interval=2",
        f"paths.log_dir={logs}",
        "model.num_layers=1",
        "model.num_heads=2",
        "data.block_size=32",
        "data.batch_size=4",
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, timeout=900)
    runs = sorted(logs.glob("train/multiruns/*/*/checkpoints/last.ckpt"))
    assert len(runs) == 4
    # resume the first run for more steps
    cmd = [
        sys.executable,
        "train.py",
        f"ckpt_path={runs[0]}",
        "debug=short",
        "system.max_steps=6",
        "trainer.val_check_interval=2",
        f"paths.log_dir={logs / 'resume'}",
        "model.dim=32",
        "model.num_layers=1",
        "model.num_heads=2",
        "data.block_size=32",
        "data.batch_size=4",
    ]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, timeout=900)
    assert "last_ckpt:" in out.stdout
    resumed = next((logs / "resume").glob("train/runs/*/checkpoints/last.ckpt"))
    assert torch.load(resumed, weights_only=True)["global_step"] == 6

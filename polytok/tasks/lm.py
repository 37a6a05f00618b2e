"""Causal language modelling: ``python train.py`` (task ``lm``) and ``python eval.py ckpt_path=...``.

Every check that can fail on user input (tokenizer and model names, the corpus, ``block_size``
against the model's positions, the checkpoint) runs before any training work starts, and a run
directory that failed there is removed, so no partial output looks complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig

from polytok.data import load_source
from polytok.io import save_pretrained
from polytok.systems.lm import LanguageModelSystem
from polytok.systems.token_stream import TokenStreamDataModule
from polytok.tasks.registry import eval_task, train_task
from polytok.tasks.runtime import (
    discard_incomplete,
    make_trainer,
    output_dir,
    system_options,
    to_dict,
)
from polytok.tokenizers import build_tokenizer, tokenizer_from_spec


def _datamodule(data: dict[str, Any], source: Any, tokenizer: Any, max_steps: int, seed: int):
    options = {k: v for k, v in data.items() if k != "source"}
    if options.get("train_windows") is None:
        options["train_windows"] = max_steps * int(options.get("batch_size", 1))
    return TokenStreamDataModule(source=source, tokenizer=tokenizer, seed=seed, **options)


def load_checkpoint_hparams(path: str | os.PathLike) -> dict[str, Any]:
    """Read a language-model checkpoint safely (``weights_only=True``); its hyperparameters.

    Raises:
        ValueError: the file is not a polytok checkpoint, or one of another task (named).
    """
    return read_lm_checkpoint(path)["hyper_parameters"]


def read_lm_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The whole checkpoint dict of a language-model run (`load_checkpoint_hparams` checks)."""
    from polytok.systems.checkpoint import checkpoint_kind, read_checkpoint

    ckpt = read_checkpoint(path)
    hparams = ckpt["hyper_parameters"]
    kind = checkpoint_kind(hparams)
    if kind == "rqvae":
        raise ValueError(
            f"checkpoint {path} is an RQ-VAE (semantic IDs) checkpoint, not a language model: "
            "load it with polytok.systems.rqvae.RQVAESystem.load_from_checkpoint, or pass the "
            "checkpoint of a language-model run (python train.py ...)"
        )
    if kind != "lm":
        raise ValueError(
            f"checkpoint {path} records no model + tokenizer hyperparameters; it is not a "
            "polytok language-model checkpoint"
        )
    return ckpt


def _prepare(cfg: DictConfig):
    """Build tokenizer, system and data module, validating everything before training."""
    data = to_dict(cfg.data)
    options = system_options(cfg, LanguageModelSystem, exclude=("model", "tokenizer", "data"))
    source = load_source(data["source"])
    done = 0
    if cfg.get("ckpt_path"):  # resuming: the vocabulary must be the checkpoint's
        ckpt = read_lm_checkpoint(cfg.ckpt_path)
        done = int(ckpt.get("global_step", 0))
        try:
            tokenizer = tokenizer_from_spec(ckpt["hyper_parameters"]["tokenizer"])
        except ValueError as err:
            raise ValueError(f"checkpoint {cfg.ckpt_path}: {err}") from err
    else:
        tokenizer = build_tokenizer(to_dict(cfg.tokenizer), lambda: source.documents("train"))
    system = LanguageModelSystem(
        model=to_dict(cfg.model), tokenizer=tokenizer, data=data, **options
    )
    if done and done >= system.hparams.max_steps:
        raise ValueError(
            f"checkpoint {cfg.ckpt_path} has finished its run ({done} steps, "
            f"system.max_steps={system.hparams.max_steps}); to train further resume with a "
            f"larger budget, e.g. system.max_steps={2 * done}"
        )
    block_size = int(data["block_size"])
    if block_size > system.model.max_positions:
        raise ValueError(
            f"data.block_size={block_size} exceeds the model's {system.model.max_positions} "
            "positions; lower data.block_size or raise model.max_positions"
        )
    datamodule = _datamodule(data, source, tokenizer, system.hparams.max_steps, int(cfg.seed))
    datamodule.setup("fit")  # tokenizes and checks the splits now, not mid-run
    init_from_data = getattr(system.model, "init_from_data", None)
    if init_from_data is not None and not done and hasattr(datamodule, "token_ids"):
        # an init that uses the training text's statistics (glyph adaptation: init=split)
        init_from_data(datamodule.token_ids("train"), tokenizer)
    return system, datamodule, tokenizer


@train_task("lm")
def train(cfg: DictConfig) -> dict[str, Any]:
    """Train, then write ``checkpoints/{best,last}.ckpt``, ``pretrained/`` and ``metrics.json``."""
    L.seed_everything(int(cfg.seed), workers=True)
    out = output_dir(cfg)
    try:
        system, datamodule, tokenizer = _prepare(cfg)
        trainer = make_trainer(cfg)
    except Exception:
        discard_incomplete(out)
        raise
    trainer.fit(system, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    result: dict[str, Any] = {"metrics": metrics, "output_dir": str(out)}
    if trainer.fast_dev_run or not trainer.is_global_zero:  # DDP: rank 0 writes the files
        return result
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if best:
        best_system = LanguageModelSystem.load_from_checkpoint(
            best, map_location="cpu", weights_only=True
        )
        result["best_ckpt"] = best
        score = trainer.checkpoint_callback.best_model_score  # None: a resumed run that
        if score is not None:  # stopped before its first validation (best is the old run's)
            result["best_val_loss"] = float(score)
        model = best_system.model
    else:
        model = system.model
    last = Path(trainer.checkpoint_callback.dirpath) / "last.ckpt" if best else None
    if last is not None and last.is_file():
        result["last_ckpt"] = str(last)
    pretrained = save_pretrained(model.cpu(), out / "pretrained", tokenizer)
    result["pretrained"] = str(pretrained)
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    return result


@eval_task("lm")
def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Test loss, bits per byte and perplexity of ``cfg.ckpt_path`` -> ``eval.json``; samples."""
    out = output_dir(cfg)
    try:
        if not cfg.get("ckpt_path"):
            raise ValueError(
                "eval.py needs a checkpoint: pass ckpt_path=PATH/TO/checkpoints/last.ckpt "
                "(train.py prints it at the end of a run)"
            )
        hparams = load_checkpoint_hparams(cfg.ckpt_path)
        system = LanguageModelSystem.load_from_checkpoint(
            cfg.ckpt_path, map_location="cpu", weights_only=True
        )
        data = to_dict(cfg.get("data")) or hparams.get("data")
        if not data:
            raise ValueError("the checkpoint records no data config; pass data=<name>")
        source = load_source(data["source"])
        datamodule = _datamodule(data, source, system.tokenizer, 1, int(cfg.seed))
        datamodule.setup("test")
        trainer = make_trainer(cfg)
    except Exception:
        discard_incomplete(out)
        raise
    trainer.test(system, datamodule=datamodule)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    prompts = cfg.get("prompt")
    prompts = [prompts] if isinstance(prompts, str) else list(prompts or [])
    samples = {
        p: system.sample(p, int(cfg.max_new_tokens), seed=int(cfg.seed), **to_dict(cfg.sampling))
        for p in prompts
    }
    result = {"ckpt_path": str(cfg.ckpt_path), "metrics": metrics, "samples": samples}
    result["eval_json"] = str(out / "eval.json")
    (out / "eval.json").write_text(json.dumps(result, indent=2))
    return result

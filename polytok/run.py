"""What ``train.py`` and ``eval.py`` run: ``train(cfg)`` / ``evaluate(cfg)`` dispatch on ``cfg.task``.

Also the shared plumbing every task uses: `make_trainer` (trainer, loggers, callbacks from the
``trainer``, ``logger`` and ``callbacks`` config groups) and `output_dir`.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import (
    Callback,
    LearningRateMonitor,
    ModelCheckpoint,
    RichProgressBar,
    TQDMProgressBar,
)
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from polytok.sweep import completed_record, configure_threads, threads_per_job, write_job_record
from polytok.tasks import EVAL_TASKS, TRAIN_TASKS, resolve_task

log = logging.getLogger(__name__)

LOGGERS: dict[str, type[Logger]] = {"tensorboard": TensorBoardLogger, "csv": CSVLogger}


def to_dict(node: Any) -> Any:
    """A resolved plain-Python copy of a config node (dicts, lists, scalars)."""
    if isinstance(node, DictConfig) or OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True)
    return node


def output_dir(cfg: DictConfig) -> Path:
    """The run's output directory (Hydra's ``runtime.output_dir`` unless overridden)."""
    path = Path(cfg.paths.output_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def make_loggers(cfg: DictConfig) -> list[Logger]:
    loggers = []
    for name, options in (to_dict(cfg.get("logger")) or {}).items():
        if name not in LOGGERS:
            raise ValueError(f"unknown logger {name!r}; valid loggers: {sorted(LOGGERS)}")
        options = dict(options or {})
        options.setdefault("save_dir", str(output_dir(cfg)))
        loggers.append(LOGGERS[name](**options))
    return loggers


def make_callbacks(cfg: DictConfig, has_logger: bool = True) -> list[Callback]:
    options = to_dict(cfg.get("callbacks")) or {}
    known = {"checkpoint", "lr_monitor", "progress_bar"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown callbacks {unknown}; valid callbacks: {sorted(known)}")
    callbacks: list[Callback] = []
    if options.get("checkpoint"):
        ckpt = dict(options["checkpoint"])
        ckpt.setdefault("dirpath", str(output_dir(cfg) / "checkpoints"))
        callbacks.append(ModelCheckpoint(**ckpt))
    if options.get("lr_monitor") and has_logger:  # it logs through the loggers
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    bar = options.get("progress_bar", "tqdm")
    if bar == "rich":
        callbacks.append(RichProgressBar())
    elif bar == "tqdm":
        callbacks.append(TQDMProgressBar(refresh_rate=10))
    elif bar not in (None, False, "none"):
        raise ValueError(f"callbacks.progress_bar must be rich, tqdm or none, got {bar!r}")
    return callbacks


def make_trainer(cfg: DictConfig, **overrides: Any) -> L.Trainer:
    """A `lightning.Trainer` from the ``trainer``/``logger``/``callbacks`` groups of ``cfg``."""
    kwargs = dict(to_dict(cfg.trainer))
    kwargs.update(overrides)
    loggers = make_loggers(cfg)
    callbacks = make_callbacks(cfg, has_logger=bool(loggers))
    if not any(isinstance(c, (TQDMProgressBar, RichProgressBar)) for c in callbacks):
        kwargs.setdefault("enable_progress_bar", False)
    return L.Trainer(
        logger=loggers or False,
        callbacks=callbacks,
        default_root_dir=str(output_dir(cfg)),
        **kwargs,
    )


def discard_incomplete(path: Path) -> None:
    """Remove a run directory that holds nothing but Hydra's bookkeeping (a failed preflight)."""
    if not path.is_dir():
        return
    leftovers = [p for p in path.iterdir() if p.name != ".hydra" and p.suffix != ".log"]
    if not leftovers:
        shutil.rmtree(path, ignore_errors=True)


def _hydra_config() -> DictConfig | None:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run the training task named by ``cfg.task`` (default ``lm``); returns its metrics.

    Under a parallel launcher the job first takes its share of the cores; the result is recorded
    in ``job.json`` for sweep reports (`polytok.sweep`).
    """
    configure_threads(threads_per_job(_hydra_config()))
    result = resolve_task(cfg.get("task", "lm"), TRAIN_TASKS)(cfg)
    write_job_record(output_dir(cfg), completed_record(cfg, result))
    return result


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Run the evaluation task named by ``cfg.task`` (default ``lm``); returns its metrics."""
    return resolve_task(cfg.get("task", "lm"), EVAL_TASKS)(cfg)

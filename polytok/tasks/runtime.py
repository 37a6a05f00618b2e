"""The plumbing every task shares: `make_trainer` (trainer, loggers and callbacks from the
``trainer``, ``logger`` and ``callbacks`` config groups), `output_dir`, `to_dict`,
`discard_incomplete` and `system_options` (a task's own ``system`` config group, checked).
"""

from __future__ import annotations

import inspect
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


class LastCheckpoint(Callback):
    """Writes ``last.ckpt`` at every validation and when training ends.

    Lightning's own ``save_last`` rewrites ``last.ckpt`` only at a validation where the monitored
    checkpoint improved (and never at the end of training), so ``last.ckpt`` could be older than
    the run and a resume from it would lose steps.
    """

    def __init__(self, dirpath: str | Path) -> None:
        self.path = Path(dirpath) / "last.ckpt"

    def _save(self, trainer: L.Trainer) -> None:
        if not (trainer.sanity_checking or trainer.fast_dev_run):
            trainer.save_checkpoint(self.path)  # every rank calls it; rank 0 writes

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)


def _checkpoint_callbacks(ckpt: dict[str, Any], cfg: DictConfig) -> list[Callback]:
    """The monitored checkpoint (``best.ckpt``) first, then `LastCheckpoint` with ``save_last``."""
    ckpt.setdefault("dirpath", str(output_dir(cfg) / "checkpoints"))
    save_last = bool(ckpt.pop("save_last", False))
    callbacks: list[Callback] = [ModelCheckpoint(**ckpt)]  # first: trainer.checkpoint_callback
    if save_last:
        callbacks.append(LastCheckpoint(ckpt["dirpath"]))
    return callbacks


def make_callbacks(cfg: DictConfig, has_logger: bool = True) -> list[Callback]:
    options = to_dict(cfg.get("callbacks")) or {}
    known = {"checkpoint", "lr_monitor", "progress_bar"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown callbacks {unknown}; valid callbacks: {sorted(known)}")
    callbacks: list[Callback] = []
    if options.get("checkpoint"):
        callbacks += _checkpoint_callbacks(dict(options["checkpoint"]), cfg)
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


def system_options(cfg: DictConfig, system: type, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The ``system`` config group of a task (``configs/system/<task>.yaml``) as keyword
    arguments of ``system``'s constructor, checked against it before any work.

    Raises:
        ValueError: a key the constructor does not take (the valid keys are listed).
    """
    options = dict(to_dict(cfg.get("system")) or {})
    allowed = set(inspect.signature(system.__init__).parameters) - {"self", *exclude}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"unknown system keys {unknown} for {system.__name__}; valid keys: {sorted(allowed)}. "
            "Each task has its own group configs/system/<task>.yaml: select it with "
            "system=<task> (e.g. system=rqvae) and override only its keys"
        )
    return options

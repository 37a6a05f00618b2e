"""What ``train.py`` and ``eval.py`` run: ``train(cfg)`` / ``evaluate(cfg)`` dispatch on ``cfg.task``
through the task registry (`polytok.tasks`). The plumbing tasks share (`make_trainer`,
`output_dir`, `to_dict`, `discard_incomplete`) lives in `polytok.tasks.runtime` and is re-exported
here for scripts.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from polytok.sweep import completed_record, configure_threads, threads_per_job, write_job_record
from polytok.tasks import EVAL_TASKS, TRAIN_TASKS, resolve_task
from polytok.tasks.runtime import (
    LOGGERS,
    discard_incomplete,
    make_callbacks,
    make_loggers,
    make_trainer,
    output_dir,
    to_dict,
)

__all__ = [
    "LOGGERS",
    "discard_incomplete",
    "evaluate",
    "make_callbacks",
    "make_loggers",
    "make_trainer",
    "output_dir",
    "to_dict",
    "train",
]


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

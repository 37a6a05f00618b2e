"""The task registry: ``cfg.task`` -> the function ``train.py`` / ``eval.py`` run.

A task module registers its entry points with ``@train_task(name)`` / ``@eval_task(name)``; the
registry names no module. `polytok.tasks` imports every task module, so importing it registers
all built-in tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig

Task = Callable[[DictConfig], dict[str, Any]]

TRAIN_TASKS: dict[str, Task] = {}
EVAL_TASKS: dict[str, Task] = {}


def train_task(name: str) -> Callable[[Task], Task]:
    """Decorator: ``python train.py task=<name>`` runs the decorated ``fn(cfg) -> metrics``."""

    def register(fn: Task) -> Task:
        TRAIN_TASKS[name] = fn
        return fn

    return register


def eval_task(name: str) -> Callable[[Task], Task]:
    """Decorator: ``python eval.py task=<name>`` runs the decorated ``fn(cfg) -> metrics``."""

    def register(fn: Task) -> Task:
        EVAL_TASKS[name] = fn
        return fn

    return register


def resolve_task(name: str, table: dict[str, Task]) -> Task:
    """The task registered as ``name`` in ``table``.

    Raises:
        ValueError: unknown name (the registered tasks are listed).
    """
    if name not in table:
        raise ValueError(f"unknown task {name!r}; valid tasks: {sorted(table)}")
    return table[name]

"""Tasks that ``train.py`` / ``eval.py`` dispatch to by ``cfg.task``, and the studies built on them.

Each task module registers ``train(cfg) -> dict`` and/or ``evaluate(cfg) -> dict`` (metrics) with
``@train_task(name)`` / ``@eval_task(name)`` (`polytok.tasks.registry`); importing this package
imports every task module, so all built-in tasks are registered. Shared plumbing (trainer,
loggers, callbacks, output directory, a task's ``system`` options) is in `polytok.tasks.runtime`.

* ``lm`` (train, eval) — `polytok.tasks.lm`: causal language modelling;
* ``rqvae`` (train) — `polytok.tasks.rqvae`: RQ-VAE semantic IDs on vectors;
* ``sid_text`` (train) — `polytok.tasks.sid_text`: semantic IDs of sentence embeddings;
* ``context_efficiency`` (eval) — `polytok.tasks.context_efficiency`: the glyph study;
* ``gpt2_base`` (train) — `polytok.tasks.hf_base`: pretrain GPT-2, export a Hugging Face directory;
* ``glyph_adapt`` (train) — `polytok.tasks.glyph_adapt`: a pretrained LM onto a glyph vocabulary;
* ``glyph_adaptation`` (eval) — `polytok.tasks.glyph_adaptation`: the adaptation study;
* ``cross_encoder`` (train), ``compress_aclsum`` (eval) — `polytok.tasks.compress`: the ACLSum
  compression benchmark and its scorer.
"""

from __future__ import annotations

from polytok.tasks import (  # noqa: F401  (each registers its tasks)
    compress,
    context_efficiency,
    glyph_adapt,
    glyph_adaptation,
    hf_base,
    lm,
    rqvae,
    sid_text,
)
from polytok.tasks.registry import EVAL_TASKS, TRAIN_TASKS, eval_task, resolve_task, train_task

__all__ = ["EVAL_TASKS", "TRAIN_TASKS", "eval_task", "resolve_task", "train_task"]

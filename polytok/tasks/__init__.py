"""Tasks that ``train.py`` / ``eval.py`` dispatch to by ``cfg.task``.

Each task module exposes ``train(cfg) -> dict`` and/or ``evaluate(cfg) -> dict`` (metrics).
Shared plumbing (trainer, loggers, callbacks, output directory) is in `polytok.run`.
"""

from __future__ import annotations

from polytok.tokenizers.base import _resolve

TRAIN_TASKS: dict[str, str] = {
    "lm": "polytok.tasks.lm:train",
    "rqvae": "polytok.sid.task:train",
    "sid_text": "polytok.tasks.sid_text:train",
    "gpt2_base": "polytok.tasks.hf_base:train",
    "glyph_adapt": "polytok.tasks.glyph_adapt:train",
    "cross_encoder": "polytok.tasks.compress:train",
}
EVAL_TASKS: dict[str, str] = {
    "lm": "polytok.tasks.lm:evaluate",
    "context_efficiency": "polytok.glyph.experiment:evaluate",
    "compress_aclsum": "polytok.tasks.compress:evaluate",
    "glyph_adaptation": "polytok.tasks.glyph_adaptation:evaluate",
}


def resolve_task(name: str, table: dict[str, str]):
    if name not in table:
        raise ValueError(f"unknown task {name!r}; valid tasks: {sorted(table)}")
    return _resolve(table[name])

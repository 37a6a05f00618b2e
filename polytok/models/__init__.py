"""Causal language models and the registry that builds them from a config dict.

A model class has a ``config_class`` dataclass, ``__init__(config)``, a ``max_positions``
attribute, ``forward(input_ids: (B, T)) -> LMOutput | Tensor``, and a classmethod
``from_tokenizer(config_dict, tokenizer)`` used by `build_model`, so the vocabulary follows the
tokenizer (and adapters such as the glyph GPT-2 can initialise new rows from it). Classes join
the registry with ``@register_model(name)`` where they are defined (`polytok.models.registry`).
"""

from __future__ import annotations

from polytok.models import gpt2 as _gpt2  # noqa: F401  (registers "gpt2")
from polytok.models.base import LMOutput, as_lm_output
from polytok.models.registry import (
    MODELS,
    build_config,
    build_model,
    model_class,
    register_model,
    registered_name,
)

__all__ = [
    "LMOutput",
    "MODELS",
    "as_lm_output",
    "build_config",
    "build_model",
    "model_class",
    "register_model",
    "registered_name",
]

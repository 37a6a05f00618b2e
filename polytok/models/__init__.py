"""Causal language models and the explicit registry that builds them from a config dict.

A model class has a ``config_class`` dataclass, ``__init__(config)``, a ``max_positions``
attribute, ``forward(input_ids: (B, T)) -> LMOutput | Tensor``, and a classmethod
``from_tokenizer(config_dict, tokenizer)`` used by `build_model`, so the vocabulary follows the
tokenizer (and adapters such as the glyph GPT-2 can initialise new rows from it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from torch import nn

from polytok.models.base import LMOutput, as_lm_output
from polytok.tokenizers.base import _resolve

# name in configs (model.name) -> "module:Class". Explicit: checkpoints never name code.
MODELS: dict[str, str] = {
    "gpt2": "polytok.models.gpt2:GPT2LM",
    "resoformer": "polytok.reso.model:ResoFormer",
    "glyph_gpt2": "polytok.glyph.adapter:GlyphGPT2",
    "hf_causal_lm": "polytok.models.hf_causal:HFCausalLM",
    "glyph_adapt": "polytok.models.glyph_lm:GlyphAdaptedLM",
}


def model_class(name: str) -> type[nn.Module]:
    if name not in MODELS:
        raise ValueError(f"unknown model name {name!r}; valid names: {sorted(MODELS)}")
    return _resolve(MODELS[name])


def build_config(cls: type, options: Mapping[str, Any]) -> Any:
    """Build ``cls.config_class`` from a mapping, failing on unknown keys with the valid ones."""
    config_cls = cls.config_class
    valid = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(options) - valid)
    if unknown:
        raise ValueError(
            f"unknown {config_cls.__name__} option(s) {unknown}; valid options: {sorted(valid)}"
        )
    return config_cls(**dict(options))


def build_model(config: Mapping[str, Any], tokenizer: Any) -> nn.Module:
    """Build a model from ``{"name": ..., **options}`` for the given tokenizer."""
    options = dict(config)
    name = options.pop("name", None)
    if name is None:
        raise ValueError(f"model config needs a 'name' (one of {sorted(MODELS)}), got {config!r}")
    return model_class(name).from_tokenizer(options, tokenizer)


__all__ = ["LMOutput", "MODELS", "as_lm_output", "build_config", "build_model", "model_class"]

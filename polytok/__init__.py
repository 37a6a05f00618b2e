"""polytok: PyTorch-native tokenization and discrete representations.

The public API is re-exported here lazily: ``import polytok`` imports neither lightning nor
hydra (nor torch) until an attribute that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> "module:attribute"
_EXPORTS: dict[str, str] = {
    # tokenizers
    "TextTokenizer": "polytok.tokenizers:TextTokenizer",
    "get_tokenizer": "polytok.tokenizers:get_tokenizer",
    "build_tokenizer": "polytok.tokenizers:build_tokenizer",
    "tokenizer_from_spec": "polytok.tokenizers:tokenizer_from_spec",
    "load_tokenizer": "polytok.tokenizers:load_tokenizer",
    # language models
    "build_model": "polytok.models:build_model",
    "LMOutput": "polytok.models.base:LMOutput",
    "GPT2LM": "polytok.models.gpt2:GPT2LM",
    "LanguageModelSystem": "polytok.systems.lm:LanguageModelSystem",
    "generate": "polytok.generation:generate",
    "SamplingConfig": "polytok.generation:SamplingConfig",
    "save_pretrained": "polytok.io:save_pretrained",
    "from_pretrained": "polytok.io:from_pretrained",
    # data
    "load_source": "polytok.data:load_source",
    "TokenStreamDataModule": "polytok.data:TokenStreamDataModule",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'polytok' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

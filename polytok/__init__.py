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
    "save_tokenizer": "polytok.tokenizers:save_tokenizer",
    "CharTokenizer": "polytok.tokenizers:CharTokenizer",
    "ByteBPETokenizer": "polytok.tokenizers:ByteBPETokenizer",
    "HFTokenizer": "polytok.tokenizers:HFTokenizer",
    "TiktokenTokenizer": "polytok.tokenizers:TiktokenTokenizer",
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
    "TokenStreamDataModule": "polytok.systems:TokenStreamDataModule",
    # count: exact token counts per LLM family, 3-tier cache
    "TokenCounter": "polytok.count:TokenCounter",
    "CountResult": "polytok.count:CountResult",
    "CacheConfig": "polytok.count:CacheConfig",
    # embed / compress: offline static embeddings, query-aware compression + validation
    "StaticEmbedder": "polytok.embed:StaticEmbedder",
    "HFMeanPoolEmbedder": "polytok.embed:HFMeanPoolEmbedder",
    "ContextCompressor": "polytok.compress:ContextCompressor",
    "CompressionResult": "polytok.compress:CompressionResult",
    "CompressionValidator": "polytok.compress:CompressionValidator",
    # sid: semantic IDs
    "RQKMeans": "polytok.sid:RQKMeans",
    "RQVAE": "polytok.sid:RQVAE",
    "SemanticIdEngine": "polytok.sid:SemanticIdEngine",
    "UniqueIdResolver": "polytok.sid:UniqueIdResolver",
    "SQLiteCollisionStore": "polytok.sid:SQLiteCollisionStore",
    # reso: prime-indexed tokens and the ResoFormer
    "ResoFormer": "polytok.reso:ResoFormer",
    "ResoFormerConfig": "polytok.reso:ResoFormerConfig",
    "PrimeTokenizer": "polytok.reso:PrimeTokenizer",
    # poly: versioned multi-modal token embeddings
    "PolyTokenizer": "polytok.poly:PolyTokenizer",
    "PolyTokenizerConfig": "polytok.poly:PolyTokenizerConfig",
    "MetaEmbeddingStore": "polytok.poly:MetaEmbeddingStore",
    "GoldSpreading": "polytok.poly:GoldSpreading",
    # glyph: phrase tapes and the hybrid tokenizer
    "GlyphTape": "polytok.glyph:GlyphTape",
    "TapeBuildConfig": "polytok.glyph:TapeBuildConfig",
    "build_tape": "polytok.glyph:build_tape",
    "HybridTokenizer": "polytok.glyph:HybridTokenizer",
}

__all__ = ["__version__", *_EXPORTS]

# Names that resolve registered types (tokenizer specs and builders, models): `polytok.catalog`
# is imported first so every built-in type is registered, whichever subsystems were imported.
_NEEDS_CATALOG = {
    "build_tokenizer",
    "tokenizer_from_spec",
    "load_tokenizer",
    "build_model",
    "LanguageModelSystem",
    "from_pretrained",
}


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'polytok' has no attribute {name!r}")
    if name in _NEEDS_CATALOG:
        importlib.import_module("polytok.catalog")
    module, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

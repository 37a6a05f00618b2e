"""Offline text embedders as ``nn.Module``: static WordLlama vectors, HF mean pooling, MiniLM."""

from polytok.embed.cache import EmbeddingCache, embed_cached
from polytok.embed.hf import HFMeanPoolEmbedder
from polytok.embed.sentence import SentenceEmbedder
from polytok.embed.static import StaticEmbedder, StaticEmbedderConfig

__all__ = [
    "EmbeddingCache",
    "HFMeanPoolEmbedder",
    "SentenceEmbedder",
    "StaticEmbedder",
    "StaticEmbedderConfig",
    "embed_cached",
]

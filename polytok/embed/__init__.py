"""Offline text embedders as ``nn.Module``: static WordLlama vectors, HF mean pooling."""

from polytok.embed.hf import HFMeanPoolEmbedder
from polytok.embed.static import StaticEmbedder, StaticEmbedderConfig

__all__ = ["HFMeanPoolEmbedder", "StaticEmbedder", "StaticEmbedderConfig"]

"""Shared layers: rotary tables, causal SDPA attention, MLP, vector quantizers."""

from polytok.nn.attention import CausalSelfAttention
from polytok.nn.mlp import MLP
from polytok.nn.quantize import ResidualVQ, RVQOutput, VectorQuantizer, VQOutput
from polytok.nn.rotary import RotaryEmbedding, apply_rotary, rotary_frequencies

__all__ = [
    "MLP",
    "CausalSelfAttention",
    "ResidualVQ",
    "RVQOutput",
    "VectorQuantizer",
    "VQOutput",
    "RotaryEmbedding",
    "apply_rotary",
    "rotary_frequencies",
]

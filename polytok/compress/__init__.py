"""Query-aware context compression under an exact token budget, and its validation."""

from polytok.compress.chunking import Chunk, split_chunks
from polytok.compress.compressor import (
    CompressionResult,
    CompressorConfig,
    ContextCompressor,
)
from polytok.compress.metrics import lcs_length, rouge_l
from polytok.compress.validator import (
    METRICS,
    CompressionValidator,
    ValidationResult,
    ValidatorConfig,
)

__all__ = [
    "METRICS",
    "Chunk",
    "CompressionResult",
    "CompressionValidator",
    "CompressorConfig",
    "ContextCompressor",
    "ValidationResult",
    "ValidatorConfig",
    "lcs_length",
    "rouge_l",
    "split_chunks",
]

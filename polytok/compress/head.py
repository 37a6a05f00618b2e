"""`ScorerHead`: the learned part of the default chunk scorer, fit on ACLSum train.

`polytok.compress.scorers.EncoderScorer` standardises a few features of each chunk (similarity
to the query, BM25, position, ...) and adds them with weights. A head adds two learned vectors
``w_s`` and ``w_q`` (one weight per dimension of the sentence vectors ``s`` and query vector
``q``)::

    score(s, q) = sum_f w_f * z(f)  +  s . (w_s + w_q * q)

``s . w_s`` is a query-independent prior (what a sentence that people highlight looks like) and
``s . (w_q * q)`` a re-weighted dot product with the query (a diagonal bilinear form), so the
query moves the prior. The weights are a logistic regression of the sentences' highlight labels
(ACLSum train) on these terms, its regularisation and the encoder depth chosen on ACLSum val
(``python scripts/fit_default_scorer.py``, docs/compress.md). They are tied to the encoder they
were fit on: ``num_layers`` of int8 all-MiniLM-L6-v2, recorded with the head.

A head is a directory: ``config.json`` (format, encoder, layers, feature weights, provenance) and
``head.safetensors`` (``sentence_weights`` and ``query_weights``, (D,) each). Loading executes
nothing. polytok ships one, `default_head`.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from polytok.saving import load_tensors, read_header, save_directory, save_tensors

FORMAT = "polytok-scorer-head"
FORMAT_VERSION = 1
TENSORS = "head.safetensors"
DEFAULT_DIR = Path(__file__).with_name("default_head")


@dataclass(frozen=True)
class ScorerHead:
    """Learned weights of `EncoderScorer` over sentence vectors (see the module docstring).

    Attributes:
        encoder: the sentence encoder the head was fit on (a name, for messages).
        num_layers: how many of the encoder's transformer layers produced the vectors.
        precision: the encoder's precision ("int8" or "float32").
        feature_weights: weight per standardised feature (`polytok.compress.scorers.FEATURES`).
        sentence_weights: (D,) ``w_s``.
        query_weights: (D,) ``w_q``.
        info: provenance (data, split, regularisation, validation figures), JSON-safe.
    """

    encoder: str
    num_layers: int
    precision: str
    feature_weights: dict[str, float]
    sentence_weights: torch.Tensor
    query_weights: torch.Tensor
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s, q = self.sentence_weights, self.query_weights
        if s.ndim != 1 or s.shape != q.shape:
            raise ValueError(
                f"sentence_weights and query_weights must be two (D,) vectors, got "
                f"{tuple(s.shape)} and {tuple(q.shape)}"
            )
        if not (torch.isfinite(s).all() and torch.isfinite(q).all()):
            raise ValueError("ScorerHead weights must be finite (the head file is corrupt)")
        for name, value in self.feature_weights.items():
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"feature weight {name!r} must be a finite number, got {value!r}")

    @property
    def dim(self) -> int:
        """Width of the sentence vectors the head reads."""
        return int(self.sentence_weights.shape[0])

    def vector_scores(self, vectors: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """(n,) ``s . (w_s + w_q * q)`` for unit chunk vectors (n, D) and a unit query (D,)."""
        if vectors.shape[-1] != self.dim or query.shape[-1] != self.dim:
            raise ValueError(
                f"this head reads {self.dim}-wide vectors ({self.encoder}, {self.num_layers} "
                f"layers), got {vectors.shape[-1]}; use the encoder it was fit on"
            )
        return vectors @ (self.sentence_weights + self.query_weights * query)

    def save(self, directory: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Write ``directory`` (config.json + head.safetensors) atomically."""
        header = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "encoder": self.encoder,
            "num_layers": self.num_layers,
            "precision": self.precision,
            "feature_weights": dict(self.feature_weights),
            "info": self.info,
        }
        tensors = {"sentence_weights": self.sentence_weights, "query_weights": self.query_weights}
        with save_directory(directory, header, overwrite=overwrite) as tmp:
            save_tensors(tmp / TENSORS, tensors)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> ScorerHead:
        """Read a directory written by `save` (checked strictly; nothing is executed).

        Raises:
            FileNotFoundError: no such directory, or its config.json / head.safetensors is missing.
            ValueError: another format, a newer version, corrupt or mismatched weights.
        """
        what = "polytok scorer head"
        header = read_header(directory, what=what, version=FORMAT_VERSION, fmt=FORMAT)
        tensors = load_tensors(Path(directory) / TENSORS, what=what)
        try:
            return cls(
                encoder=str(header["encoder"]),
                num_layers=_positive_int(header["num_layers"]),
                precision=str(header["precision"]),
                feature_weights=_weights(header["feature_weights"]),
                sentence_weights=tensors["sentence_weights"].float(),
                query_weights=tensors["query_weights"].float(),
                info=dict(header.get("info") or {}),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{str(directory)!r} is not a valid {what}: {err}") from err


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"num_layers must be a positive integer, got {value!r}")
    return value


def _weights(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ValueError(f"feature_weights must be a mapping, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


@functools.lru_cache(maxsize=1)
def default_head() -> ScorerHead:
    """The head polytok ships (``polytok/compress/default_head``), read once."""
    return ScorerHead.load(DEFAULT_DIR)

"""`SemanticIdEngine`: fit an encoder, then hand out semantic and collision-free unique IDs."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from polytok.sid.unique import UniqueIdResolver


class SemanticEncoder(Protocol):
    """What the engine needs from a model (`RQKMeans` and `RQVAE` provide it)."""

    def fit(self, X): ...

    def encode(self, X): ...

    def semantic_id(self, codes, sep: str = "-") -> list[str]: ...


def load_encoder(directory: str | os.PathLike, device: str = "cpu"):
    """Load an `RQKMeans` or `RQVAE` directory, choosing the class from an explicit registry."""
    from polytok.sid.rqkmeans import RQKMeans
    from polytok.sid.rqvae import RQVAE

    registry = {"RQKMeans": RQKMeans, "RQVAE": RQVAE}
    path = Path(directory) / "config.json"
    name = None
    if path.is_file():
        try:
            name = json.loads(path.read_text()).get("class")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as err:
            raise ValueError(f"corrupt {path}: {err}; re-save the model") from err
    cls = registry.get(name, RQKMeans)  # unknown classes fail in RQKMeans.load with a message
    return cls.load(directory, device=device)


def item_keys(X) -> list[str]:
    """Content keys of the rows of X (N, D): BLAKE2b-128 of each row's float32 bytes.

    Equal vectors get equal keys, so re-asking for the same items returns the same IDs.
    """
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().float().numpy()
    rows = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    if rows.ndim != 2:
        raise ValueError(f"X must be 2-D (N, D), got shape {rows.shape}")
    return [hashlib.blake2b(row.tobytes(), digest_size=16).hexdigest() for row in rows]


class SemanticIdEngine:
    """Semantic IDs (``"3-9-1"``) and unique IDs (``"3-9-1"``, ``"3-9-1-1"``, ...).

    Args:
        encoder: a fitted or unfitted `RQKMeans` / `RQVAE` (anything with fit/encode/semantic_id).
        unique_resolver: where collisions are resolved; default an in-memory
            `UniqueIdResolver`.
        sep: separator between levels.
    """

    def __init__(
        self,
        encoder: SemanticEncoder,
        unique_resolver: UniqueIdResolver | None = None,
        sep: str = "-",
    ) -> None:
        self.encoder = encoder
        self.resolver = (
            unique_resolver if unique_resolver is not None else UniqueIdResolver(sep=sep)
        )
        self.sep = sep

    def fit(self, X) -> SemanticIdEngine:
        """Fit the encoder on X (N, D); returns self."""
        self.encoder.fit(X)
        return self

    def semantic_ids(self, X) -> list[str]:
        """Semantic ID per row of X; similar rows share prefixes and may collide."""
        return self.encoder.semantic_id(self.encoder.encode(X), sep=self.sep)

    def unique_ids(self, X, keys: Sequence[str] | None = None) -> list[str]:
        """Collision-free IDs per row; idempotent per key.

        Args:
            X: (N, D) vectors.
            keys: item keys (e.g. document ids); default content keys from `item_keys`.
        """
        keys = item_keys(X) if keys is None else [str(k) for k in keys]
        sids = self.semantic_ids(X)
        if len(keys) != len(sids):
            raise ValueError(f"got {len(keys)} keys for {len(sids)} rows; pass one key per row")
        return self.resolver.resolve(sids, keys)

"""`SemanticIdEngine`: fit an encoder, then hand out semantic and collision-free unique IDs."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from polytok.sid.engine_io import load_encoder, read_engine, save_engine  # noqa: F401  (load_encoder: re-exported)
from polytok.sid.formats import Formatter, check_format, codes_to_ids
from polytok.sid.inputs import as_matrix
from polytok.sid.sinkhorn_resolver import SinkhornResolver
from polytok.sid.unique import UniqueIdResolver


class SemanticEncoder(Protocol):
    """What the engine needs from a model (`RQKMeans` and `RQVAE` provide it)."""

    def fit(self, X): ...

    def encode(self, X): ...

    def semantic_id(self, codes, sep: str = "-") -> list[str]: ...


def model_fingerprint(encoder: torch.nn.Module) -> str:
    """BLAKE2b-128 of the class name and every state tensor: the identity a store records."""
    h = hashlib.blake2b(type(encoder).__name__.encode(), digest_size=16)
    for name, tensor in sorted(encoder.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


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
        unique_resolver: `UniqueIdResolver` (suffixes, persistent, idempotent per key; default
            in-memory) or `SinkhornResolver` (balanced reassignment within one batch).
        sep: separator between levels (plain format).
        fmt: "plain" (``"3-9-1"``) or "token" (``"<a_3><b_9><c_1>"``).
        formatter: a callable row of ints -> str, overriding ``fmt``.
    """

    def __init__(
        self,
        encoder: SemanticEncoder,
        unique_resolver: UniqueIdResolver | SinkhornResolver | None = None,
        sep: str = "-",
        fmt: str = "plain",
        formatter: Formatter | None = None,
    ) -> None:
        check_format(fmt, sep, formatter)
        self.encoder = encoder
        self.resolver = (
            unique_resolver if unique_resolver is not None else UniqueIdResolver(sep=sep)
        )
        self.sep, self.fmt, self.formatter = sep, fmt, formatter

    @property
    def unique_resolver(self) -> UniqueIdResolver | SinkhornResolver:
        """semantic-id's attribute name for `resolver`."""
        return self.resolver

    def fit(self, X) -> SemanticIdEngine:
        """Fit the encoder on X (N, D); returns self."""
        self.encoder.fit(X)
        return self

    def to_ids(self, codes) -> list[str]:
        """(N, L) codes -> strings in this engine's format."""
        return codes_to_ids(codes, sep=self.sep, fmt=self.fmt, formatter=self.formatter)

    def semantic_ids(self, X) -> list[str]:
        """Semantic ID per row of X; similar rows share prefixes and may collide."""
        return self.to_ids(self.encoder.encode(X))

    def unique_ids(self, X, keys: Sequence | None = None) -> list[str]:
        """Collision-free IDs per row.

        Args:
            X: (N, D) vectors.
            keys: item keys (e.g. document ids); default content keys from `item_keys`. Used by
                `UniqueIdResolver` (idempotent per key); `SinkhornResolver` ignores them.
        """
        if isinstance(self.resolver, SinkhornResolver):
            x = as_matrix(X).to(_device(self.encoder))
            codes = torch.as_tensor(np.asarray(self.encoder.encode(x.cpu().numpy())))
            return self.resolver.resolve(self.encoder, x, codes, self.to_ids)
        keys = item_keys(X) if keys is None else list(keys)
        codes = self.encoder.encode(X)
        sids = self.to_ids(codes)
        if len(keys) != len(sids):
            raise ValueError(f"got {len(keys)} keys for {len(sids)} rows; pass one key per row")
        layout = None if self.formatter is not None else f"{self.fmt}:{codes.shape[1]}"
        return self.resolver.resolve(
            sids, keys, model=model_fingerprint(self.encoder), layout=layout
        )

    def save(self, directory: str | os.PathLike) -> None:
        """Write the encoder, the ID format and the resolver with its store settings.

        See `polytok.sid.engine_io.save_engine`.
        """
        save_engine(self, directory)

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike,
        device: str = "cpu",
        formatter: Formatter | None = None,
        store_path: str | os.PathLike | None = None,
    ) -> SemanticIdEngine:
        """Read a directory written by `save` (see `polytok.sid.engine_io.read_engine`)."""
        return cls(
            **read_engine(directory, device=device, formatter=formatter, store_path=store_path)
        )


def _device(encoder) -> torch.device:
    return next(iter(encoder.buffers()), next(iter(encoder.parameters()), torch.zeros(0))).device

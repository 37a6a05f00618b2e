"""An on-disk cache of text embeddings keyed by content (SQLite), and `embed_cached`.

Embedding 100k sentences with a transformer takes hours on a small CPU; the cache makes that work
resumable and shared between runs. A row's key is the first 16 bytes of
``sha256(fingerprint + "\\0" + text)``, where the fingerprint names the model and every setting
that changes its output (`SentenceEmbedder.fingerprint`), so two models never share rows. Rows are
committed in chunks: an interrupted job keeps everything it finished.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch


class TextEncoder(Protocol):
    """What `embed_cached` needs: ``encode(texts, batch_size=...) -> (N, D)`` and a fingerprint."""

    fingerprint: str

    def encode(self, texts: Sequence[str], batch_size: int = ...) -> torch.Tensor: ...


class EmbeddingCache:
    """SQLite table ``key -> float32 vector`` for one model fingerprint.

    Args:
        path: the database file (created with its parent directory).
        fingerprint: the model's identity (`SentenceEmbedder.fingerprint`).

    Raises:
        ValueError: ``path`` is a directory or not a SQLite database.
    """

    def __init__(self, path: str | Path, fingerprint: str) -> None:
        path = Path(path)
        if path.is_dir():
            raise ValueError(f"embedding cache path {str(path)!r} is a directory; name a file")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fingerprint = fingerprint
        try:
            self._db = sqlite3.connect(str(path), timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS emb (key BLOB PRIMARY KEY, vec BLOB NOT NULL)"
            )
        except sqlite3.DatabaseError as err:
            raise ValueError(f"{str(path)!r} is not a usable embedding cache: {err}") from err

    def keys(self, texts: Sequence[str]) -> list[bytes]:
        """16-byte content keys of ``texts`` under this fingerprint."""
        prefix = self.fingerprint.encode() + b"\0"
        return [hashlib.sha256(prefix + t.encode("utf-8")).digest()[:16] for t in texts]

    def get(self, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """``{index: vector}`` for the texts already cached."""
        keys = self.keys(texts)
        found: dict[bytes, np.ndarray] = {}
        for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, vec in self._db.execute(
                f"SELECT key, vec FROM emb WHERE key IN ({marks})", chunk
            ):
                found[key] = np.frombuffer(vec, dtype=np.float32)
        return {i: found[k] for i, k in enumerate(keys) if k in found}

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store (N, D) float32 ``vectors`` for ``texts`` in one transaction."""
        rows = zip(self.keys(texts), np.ascontiguousarray(vectors, dtype=np.float32))
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO emb (key, vec) VALUES (?, ?)",
                [(k, v.tobytes()) for k, v in rows],
            )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM emb").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def embed_cached(
    encoder: TextEncoder,
    texts: Sequence[str],
    cache: str | Path | None,
    *,
    batch_size: int = 64,
    chunk: int = 1024,
    show_progress: bool = False,
) -> np.ndarray:
    """(N, D) float32 embeddings of ``texts``, computing only those not in ``cache`` yet.

    Args:
        encoder: e.g. `SentenceEmbedder`.
        texts: N strings.
        cache: SQLite file (``None``: no cache, everything is computed).
        batch_size: texts per forward pass.
        chunk: texts embedded and committed together (the unit of resumable progress).
        show_progress: a tqdm bar over missing texts.

    Returns:
        (N, D) float32 numpy array in the order of ``texts``.
    """
    texts = list(texts)
    store = EmbeddingCache(cache, encoder.fingerprint) if cache is not None else None
    have = store.get(texts) if store is not None else {}
    missing = [i for i in range(len(texts)) if i not in have]
    bar = None
    if show_progress and missing:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(missing), desc="embedding", unit="text")
    try:
        for start in range(0, len(missing), chunk):
            idx = missing[start : start + chunk]
            part = [texts[i] for i in idx]
            vecs = encoder.encode(part, batch_size=batch_size).float().cpu().numpy()
            if store is not None:
                store.put(part, vecs)
            have.update(zip(idx, vecs))
            if bar is not None:
                bar.update(len(idx))
    finally:
        if bar is not None:
            bar.close()
        if store is not None:
            store.close()
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([have[i] for i in range(len(texts))]).astype(np.float32, copy=False)

"""EmbeddingCache / embed_cached: content keys, only missing texts computed, resumable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polytok.embed.cache import EmbeddingCache, embed_cached


class CharCountEncoder:
    """A real (tiny, deterministic) encoder: letter counts of a-d; records what it was asked."""

    def __init__(self, fingerprint: str = "chars-v1") -> None:
        self.fingerprint = fingerprint
        self.calls: list[list[str]] = []

    def encode(self, texts, batch_size=64):
        self.calls.append(list(texts))
        return torch.tensor([[t.count(c) for c in "abcd"] for t in texts], dtype=torch.float32)


def test_only_missing_texts_are_encoded(tmp_path):
    db = tmp_path / "emb.sqlite"
    enc = CharCountEncoder()
    first = embed_cached(enc, ["aab", "cd"], db)
    np.testing.assert_array_equal(first, [[2, 1, 0, 0], [0, 0, 1, 1]])
    again = embed_cached(enc, ["cd", "dddd", "aab"], db, chunk=1)
    np.testing.assert_array_equal(again, [[0, 0, 1, 1], [0, 0, 0, 4], [2, 1, 0, 0]])
    assert enc.calls == [["aab", "cd"], ["dddd"]]
    assert len(EmbeddingCache(db, "chars-v1")) == 3


def test_fingerprint_separates_models(tmp_path):
    db = tmp_path / "emb.sqlite"
    embed_cached(CharCountEncoder("m1"), ["abc"], db)
    other = CharCountEncoder("m2")
    embed_cached(other, ["abc"], db)
    assert other.calls == [["abc"]]  # m1's row is not reused for m2


def test_interrupted_job_keeps_finished_chunks(tmp_path):
    db = tmp_path / "emb.sqlite"

    class Failing(CharCountEncoder):
        def encode(self, texts, batch_size=64):
            if "boom" in texts:
                raise RuntimeError("interrupted")
            return super().encode(texts, batch_size)

    with pytest.raises(RuntimeError):
        embed_cached(Failing(), ["a", "b", "boom"], db, chunk=2)
    assert len(EmbeddingCache(db, "chars-v1")) == 2


def test_bad_cache_paths(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        EmbeddingCache(tmp_path, "x")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ValueError, match="not a usable embedding cache"):
        EmbeddingCache(junk, "x")

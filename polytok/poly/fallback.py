"""The lookup fallback chain of the PolyTokenizer and its per-level statistics.

A lookup ``(modality, version, token)`` is served by the first level that has an answer:

1. ``exact``: the token is in the requested version's table;
2. ``older_version``: the token is in an older version of the same modality (the version's
   parent chain first, then the remaining versions from newest to oldest);
3. ``oov_bucket``: one of the modality's out-of-vocabulary rows, chosen by
   ``jump_hash(stable_hash64(token), num_oov_buckets)`` (stable across processes, and growing
   the bucket count moves only ``1/(n+1)`` of the tokens);
4. ``global``: a global bucket shared by all modalities (modalities created with 0 OOV buckets).

Hashing-trick OOV embeddings follow K. Weinberger et al., "Feature hashing for large scale
multitask learning", ICML 2009.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

from polytok.poly.hashing import jump_hash, stable_hash64
from polytok.poly.versions import VersionTable

LEVELS = ("exact", "older_version", "oov_bucket", "global")


class Resolution(NamedTuple):
    """Where a lookup is served from: ``table`` is a store key, ``row`` a row of that table."""

    level: str  # one of LEVELS
    table: str  # store table key, e.g. "text:v1", "oov:text", "global"
    row: int
    version: str | None  # version that served it (exact / older_version), else None


def bucket_of(token: str, num_buckets: int) -> int:
    """The stable OOV bucket of ``token`` among ``num_buckets``."""
    return jump_hash(stable_hash64(token), num_buckets)


class FallbackChain:
    """Resolves a token of ``(modality, version)`` to the table row that serves it.

    Args:
        vocab: the registry's `VersionTable` (read only).
        global_buckets: rows of the global bucket table.
    """

    def __init__(self, vocab: VersionTable, global_buckets: int) -> None:
        if global_buckets < 1:
            raise ValueError(f"global_buckets must be >= 1, got {global_buckets}")
        self.vocab = vocab
        self.global_buckets = global_buckets

    def resolve(self, token: str, modality: str, version: str) -> Resolution:
        """The first level with an answer (``modality`` and ``version`` must exist)."""
        row = self.vocab.row(modality, version, token)
        if row is not None:
            return Resolution("exact", f"{modality}:{version}", row, version)
        return self.resolve_missing(token, modality, version)

    def resolve_missing(self, token: str, modality: str, version: str) -> Resolution:
        """Levels 2-4 for a token that this version does not store."""
        for older in self.vocab.chain(modality, version)[1:]:
            row = self.vocab.row(modality, older, token)
            if row is not None:
                return Resolution("older_version", f"{modality}:{older}", row, older)
        buckets = self.vocab.oov_buckets(modality)
        if buckets:
            return Resolution("oov_bucket", f"oov:{modality}", bucket_of(token, buckets), None)
        return Resolution("global", "global", bucket_of(token, self.global_buckets), None)


class FallbackStats:
    """Counts of lookups served per level (see `LEVELS`)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def record(self, level: str, count: int = 1) -> None:
        self.counts[level] += count

    def as_dict(self) -> dict[str, int]:
        return {level: int(self.counts.get(level, 0)) for level in LEVELS}

    def reset(self) -> None:
        self.counts.clear()

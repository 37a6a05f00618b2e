"""Reads from a `PolyTokenizer`: exact rows, then the fallback chain (`polytok.poly.fallback`).

`LookupMixin` holds the read path of the registry: `resolve` says which level and row serve a
token, `lookup` returns the embedding with that answer, and `get_embeddings` is the batched path
(one dict probe per token, one ``index_select`` per serving table). It relies on the registry's
state (``_rows``, ``_oov``, ``store``, ``spreading``, ``stats``) and is mixed into `PolyTokenizer`.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import repeat
from typing import NamedTuple

import torch

from polytok.poly.fallback import Resolution, bucket_of


class Lookup(NamedTuple):
    """One lookup: the stored embedding ``(dim,)`` and where it was served from."""

    embedding: torch.Tensor
    level: str
    table: str
    row: int
    version: str | None


class LookupMixin:
    """The read path of `PolyTokenizer` (see module docstring)."""

    def _resolve_missing(self, token: str, modality: str, version: str) -> Resolution:
        for older in self.version_chain(modality, version)[1:]:
            row = self._rows[(modality, older)].get(token)
            if row is not None:
                return Resolution("older_version", f"{modality}:{older}", row, older)
        if self._oov[modality]:
            return Resolution(
                "oov_bucket", f"oov:{modality}", bucket_of(token, self._oov[modality]), None
            )
        return Resolution("global", "global", bucket_of(token, self.config.global_buckets), None)

    def resolve(
        self, token: str, modality: str | None = None, version: str | None = None
    ) -> Resolution:
        """Where a lookup of ``token`` is served from (no statistics recorded)."""
        modality, version = self._target(modality, version)
        row = self._rows[(modality, version)].get(token)
        if row is not None:
            return Resolution("exact", f"{modality}:{version}", row, version)
        return self._resolve_missing(token, modality, version)

    def lookup(self, token: str, modality: str | None = None, version: str | None = None) -> Lookup:
        """The embedding of ``token`` and the fallback level that served it."""
        res = self.resolve(token, modality, version)
        self.stats.record(res.level)
        vec = self.store.lookup(res.table, torch.tensor([res.row]))[0]
        return Lookup(vec, res.level, res.table, res.row, res.version)

    def get_embedding(
        self, token: str, modality: str | None = None, version: str | None = None
    ) -> torch.Tensor:
        """``(dim,)`` stored embedding of ``token`` (through the fallback chain)."""
        return self.lookup(token, modality, version).embedding

    def get_meta_embedding(
        self, token: str, modality: str | None = None, version: str | None = None
    ) -> torch.Tensor:
        """``(in_dim,)`` meta-embedding: the stored embedding despread with its modality's code."""
        modality, version = self._target(modality, version)
        x = self.get_embedding(token, modality, version)
        return self.spreading.despread(x.double(), modality).to(x.dtype)

    def get_embeddings(
        self,
        tokens: Sequence[str],
        modality: str | None = None,
        version: str | None = None,
        out: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(N, dim)`` embeddings; known tokens cost one dict lookup each and one ``index_select``.

        Misses go through the fallback chain (one ``index_select`` per serving table); the levels
        are counted in `stats`. Differentiable with respect to the store's tables unless ``out``
        (a preallocated ``(N, dim)`` tensor, reused across calls to skip page faults) is given.
        """
        modality, version = self._target(modality, version)
        key = f"{modality}:{version}"
        if not tokens:
            return self.store.table(key)[:0]
        # array + frombuffer: ~6x faster than torch.tensor(list) for 100k ints
        found = array("q", map(self._rows[(modality, version)].get, tokens, repeat(-1)))
        rows = torch.frombuffer(found, dtype=torch.int64)
        if int(rows.min()) >= 0:
            self.stats.record("exact", len(tokens))
            if out is not None:
                return torch.index_select(self.store.table(key).detach(), 0, rows, out=out)
            return self.store.lookup(key, rows)
        hit = rows >= 0
        groups: dict[str, tuple[list[int], list[int]]] = {
            key: (hit.nonzero()[:, 0].tolist(), rows[hit].tolist())
        }
        self.stats.record("exact", int(hit.sum()))
        for pos in (~hit).nonzero()[:, 0].tolist():
            res = self._resolve_missing(tokens[pos], modality, version)
            self.stats.record(res.level)
            positions, table_rows = groups.setdefault(res.table, ([], []))
            positions.append(pos)
            table_rows.append(res.row)
        pieces, order = [], []
        for table, (positions, table_rows) in groups.items():
            if positions:
                pieces.append(self.store.lookup(table, torch.tensor(table_rows)))
                order.extend(positions)
        inverse = torch.empty(len(order), dtype=torch.int64)
        inverse[torch.tensor(order)] = torch.arange(len(order))
        result = torch.cat(pieces)[inverse]  # (N, dim) back in input order
        return result if out is None else out.copy_(result)

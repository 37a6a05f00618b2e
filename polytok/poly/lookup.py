"""The read path of a `PolyTokenizer`: exact rows, then the fallback chain.

`LookupMixin` adds `resolve`, `lookup`, `get_embedding(s)` and `get_meta_embedding` to the
registry through its public parts only: ``vocab`` (`VersionTable`), ``fallback``
(`FallbackChain`), ``embedding`` (`PolyEmbedding`) and ``stats`` (`FallbackStats`). Embeddings come
back on the registry's device.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import torch

from polytok.poly.fallback import Resolution

if TYPE_CHECKING:
    from polytok.poly.embedding import PolyEmbedding
    from polytok.poly.fallback import FallbackChain, FallbackStats
    from polytok.poly.versions import VersionTable


class Lookup(NamedTuple):
    """One lookup: the stored embedding ``(dim,)`` and where it was served from."""

    embedding: torch.Tensor
    level: str
    table: str
    row: int
    version: str | None


class LookupMixin:
    """The read path of `PolyTokenizer` (see module docstring)."""

    vocab: VersionTable
    fallback: FallbackChain
    embedding: PolyEmbedding
    stats: FallbackStats

    def resolve(
        self, token: str, modality: str | None = None, version: str | None = None
    ) -> Resolution:
        """Where a lookup of ``token`` is served from (no statistics recorded)."""
        modality, version = self.vocab.target(modality, version)
        return self.fallback.resolve(token, modality, version)

    def lookup(self, token: str, modality: str | None = None, version: str | None = None) -> Lookup:
        """The embedding of ``token`` and the fallback level that served it."""
        res = self.resolve(token, modality, version)
        self.stats.record(res.level)
        vec = self.embedding.rows(res.table, [res.row])[0]
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
        modality, version = self.vocab.target(modality, version)
        return self.embedding.despread(self.get_embedding(token, modality, version), modality)

    def get_embeddings(
        self,
        tokens: Sequence[str],
        modality: str | None = None,
        version: str | None = None,
        out: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(N, dim)`` embeddings; known tokens cost one dict lookup each and one ``index_select``.

        Misses go through the fallback chain (one ``index_select`` per serving table); the levels
        are counted in `stats`. Differentiable with respect to the tables unless ``out`` (a
        preallocated ``(N, dim)`` tensor on the registry's device, reused across calls to skip
        page faults) is given.
        """
        modality, version = self.vocab.target(modality, version)
        key = f"{modality}:{version}"
        if not tokens:
            return self.embedding.table(key)[:0]
        found = self.vocab.rows_of(modality, version, tokens)
        rows = torch.frombuffer(found, dtype=torch.int64)  # host ids: no device round trip
        if int(rows.min()) >= 0:
            self.stats.record("exact", len(tokens))
            if out is not None:
                table = self.embedding.table(key).detach()
                return torch.index_select(table, 0, rows.to(table.device), out=out)
            return self.embedding.rows(key, rows)
        hit = rows >= 0
        groups: dict[str, tuple[list[int], list[int]]] = {
            key: (hit.nonzero()[:, 0].tolist(), rows[hit].tolist())
        }
        self.stats.record("exact", int(hit.sum()))
        for pos in (~hit).nonzero()[:, 0].tolist():
            res = self.fallback.resolve_missing(tokens[pos], modality, version)
            self.stats.record(res.level)
            positions, table_rows = groups.setdefault(res.table, ([], []))
            positions.append(pos)
            table_rows.append(res.row)
        pieces, order = [], []
        for table, (positions, table_rows) in groups.items():
            if positions:
                pieces.append(self.embedding.rows(table, table_rows))
                order.extend(positions)
        inverse = torch.empty(len(order), dtype=torch.int64)
        inverse[torch.tensor(order)] = torch.arange(len(order))
        result = torch.cat(pieces)[inverse.to(pieces[0].device)]  # (N, dim) back in input order
        return result if out is None else out.copy_(result)

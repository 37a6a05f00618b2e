"""`PolyEmbedding`: every tensor of a `PolyTokenizer`, as one ``nn.Module``.

It owns the modality codes (`GoldSpreading`), the growable tables (`MetaEmbeddingStore`: one
Parameter per ``(modality, version)`` table, per modality's OOV buckets and the global bucket) and
the registered base embedding matrices (persistent buffers ``base_<modality>``). ``.to(device)``
moves all of them; ``state_dict()`` holds the tables and base matrices (codes and ``Q`` are rebuilt
from the config). Every method returns tensors on the module's device, in float32.
"""

from __future__ import annotations

import torch
from torch import nn

from polytok.poly.spreading import GoldSpreading
from polytok.poly.store import MetaEmbeddingStore


class PolyEmbedding(nn.Module):
    """Codes, tables and base matrices of a registry.

    Args:
        dim: stored (spread) embedding dimension.
        modality: the first modality (code 0); more come from `add_modality`.
        **spreading: `GoldSpreading` options (``mode``, ``num_subspaces``, ``code_family``, ``seed``).
    """

    def __init__(self, dim: int, modality: str = "text", **spreading) -> None:
        super().__init__()
        self.spreading = GoldSpreading(dim, (modality,), **spreading)
        self.store = MetaEmbeddingStore(dim)

    @property
    def dim(self) -> int:
        return self.spreading.dim

    @property
    def in_dim(self) -> int:
        return self.spreading.in_dim

    @property
    def device(self) -> torch.device:
        return self.spreading.q.device

    # -- codes ---------------------------------------------------------------------------------
    def add_modality(self, name: str) -> int:
        """Give ``name`` the next code; returns its index."""
        return self.spreading.add_modality(name)

    def spread(self, meta: torch.Tensor, modality: str | int) -> torch.Tensor:
        """``(N, in_dim)`` meta-embeddings -> ``(N, dim)`` float32 on this module's device."""
        return self.spreading.spread(meta.to(self.device, torch.float32), modality)

    def despread(self, x: torch.Tensor, modality: str | int) -> torch.Tensor:
        """``(..., dim)`` -> ``(..., in_dim)`` in ``x``'s dtype."""
        return self.spreading.despread(x, modality)

    # -- tables --------------------------------------------------------------------------------
    def create_table(self, key: str, meta: torch.Tensor | None = None, modality: str | int = 0,
                     capacity: int = 16) -> None:  # fmt: skip
        """New table ``key``; with ``meta`` ``(k, in_dim)``, its first rows are their spreads."""
        self.store.create_table(key, capacity=capacity if meta is None else meta.shape[0])
        if meta is not None:
            self.store.append(key, self.spread(meta, modality))

    def table(self, key: str) -> nn.Parameter:
        """The Parameter of ``key`` (``(capacity, dim)``; see `MetaEmbeddingStore`)."""
        return self.store.table(key)

    def append(self, key: str, vectors: torch.Tensor) -> list[int]:
        """Append ``(k, dim)`` rows to ``key``; returns their row ids."""
        return self.store.append(key, vectors).tolist()

    def rows(self, key: str, rows: torch.Tensor | list[int]) -> torch.Tensor:
        """``(N,)`` row ids -> ``(N, dim)``; differentiable."""
        return self.store.lookup(key, torch.as_tensor(rows, dtype=torch.int64, device=self.device))

    def forward(self, key: str, rows: torch.Tensor) -> torch.Tensor:
        return self.rows(key, rows)

    # -- base embedding matrices ---------------------------------------------------------------
    def set_base(self, modality: str, weight: torch.Tensor) -> None:
        """Register the ``(V, in_dim)`` base embedding matrix of ``modality`` (a copy)."""
        if weight.ndim != 2 or weight.shape[1] != self.in_dim:
            raise ValueError(
                f"base embedding matrix must be (vocab, {self.in_dim}), got {tuple(weight.shape)}; "
                f"project it or build the PolyTokenizer with dim={weight.shape[-1]}"
            )
        value = weight.detach().to(self.device, torch.float32).clone()
        self.register_buffer(f"base_{modality}", value, persistent=True)

    def has_base(self, modality: str) -> bool:
        return f"base_{modality}" in self._buffers

    def base(self, modality: str) -> torch.Tensor:
        """The ``(V, in_dim)`` base matrix of ``modality``."""
        if not self.has_base(modality):
            raise ValueError(
                f"no base embedding matrix registered for {modality!r}; call register_base("
                f"tokenizer, weight, modality={modality!r})"
            )
        return self._buffers[f"base_{modality}"]

    def bases(self) -> dict[str, torch.Tensor]:
        """``modality -> (V, in_dim)`` for every registered base matrix."""
        return {
            k.removeprefix("base_"): v for k, v in self._buffers.items() if k.startswith("base_")
        }

    def spread_base(self, modality: str, ids: torch.Tensor) -> torch.Tensor:
        """``(N,)`` base ids -> ``(N, dim)``: their base rows spread into the modality's code."""
        return self.spread(self.base(modality)[ids.to(self.device)], modality)

    def subtoken_means(self, modality: str, pieces: list[list[int]]) -> torch.Tensor:
        """``K`` non-empty id lists -> ``(K, dim)``: the spread mean of each list's base rows.

        The mean of the embeddings a new token replaces (Hewitt 2021; Gee et al. 2022).
        """
        weight = self.base(modality)
        flat = torch.tensor([i for p in pieces for i in p], dtype=torch.int64, device=self.device)
        owner = torch.repeat_interleave(
            torch.arange(len(pieces), device=self.device),
            torch.tensor([len(p) for p in pieces], device=self.device),
        )  # (sum len,) -> which list each id belongs to
        sums = weight.new_zeros(len(pieces), self.in_dim).index_add_(0, owner, weight[flat])
        counts = torch.bincount(owner, minlength=len(pieces)).to(weight.dtype)
        return self.spread(sums / counts[:, None], modality)  # (K, in_dim) -> (K, dim)

    # -- persistence ---------------------------------------------------------------------------
    def export_tables(self) -> dict[str, torch.Tensor]:
        """Used rows of every table on the CPU (for safetensors)."""
        return self.store.export()

    def load_tables(self, tensors: dict[str, torch.Tensor]) -> None:
        """Replace every table by ``tensors`` (``key -> (rows, dim)``), on this module's device."""
        self.store.load_tables({k: v.to(self.device) for k, v in tensors.items()})

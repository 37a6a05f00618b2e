"""`MetaEmbeddingStore`: growable embedding tables that keep optimizer state valid.

One ``(rows, dim)`` ``nn.Parameter`` per table key (``"text:v1"``, ``"oov:text"``, ``"global"``).
Tables grow by capacity doubling (amortised O(1) per appended row, like a dynamic array): the
Parameter object stays the same (its ``.data`` is swapped for a larger tensor), so optimizers that
hold it keep working, and every optimizer registered with `attach_optimizer` gets its per-parameter
state tensors (Adam's ``exp_avg``/``exp_avg_sq``, SGD's ``momentum_buffer``, ...) extended in place
with zero rows: old rows keep their moments, new rows start fresh. Rows past ``num_rows(key)`` are
spare capacity; they are zero and never looked up.
"""

from __future__ import annotations

import re
import weakref

import torch
from torch import nn

_KEY = re.compile(r"^[A-Za-z0-9_\-:@]+$")


class MetaEmbeddingStore(nn.Module):
    """Named, growable ``(rows, dim)`` tables.

    Args:
        dim: row dimension.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self.dim = dim
        self.tables = nn.ParameterDict()
        self._rows: dict[str, int] = {}
        self._optimizers: list[weakref.ref] = []

    # -- structure ---------------------------------------------------------------------------
    def create_table(self, key: str, capacity: int = 16, like: torch.Tensor | None = None) -> None:
        """Add an empty table ``key`` (letters, digits, ``_-:@``) on the device and dtype of
        ``like``, else of the existing tables, else the default device in float32."""
        if not _KEY.match(key):
            raise ValueError(f"table key must match {_KEY.pattern}, got {key!r}")
        if key in self._rows:
            raise ValueError(f"table {key!r} exists already")
        ref = like if like is not None else next(iter(self.tables.values()), None)
        kwargs = {"device": ref.device, "dtype": ref.dtype} if ref is not None else {}
        self.tables[key] = nn.Parameter(torch.zeros(max(capacity, 1), self.dim, **kwargs))
        self._rows[key] = 0

    def keys(self) -> list[str]:
        return list(self._rows)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def num_rows(self, key: str) -> int:
        return self._rows[key]

    def table(self, key: str) -> nn.Parameter:
        """The Parameter of ``key`` (``(capacity, dim)``; rows ``>= num_rows(key)`` are spare)."""
        return self.tables[key]

    def attach_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        """Keep ``optimizer``'s state valid when tables grow (held by weak reference)."""
        self._optimizers.append(weakref.ref(optimizer))

    # -- growth ------------------------------------------------------------------------------
    def _grow(self, key: str, capacity: int) -> None:
        param = self.tables[key]
        old = param.data
        new = old.new_zeros(capacity, self.dim)
        new[: old.shape[0]] = old
        param.data = new  # same Parameter object: optimizer param groups stay valid
        if param.grad is not None:
            grad = param.grad.new_zeros(capacity, self.dim)
            grad[: old.shape[0]] = param.grad
            param.grad = grad
        alive = []
        for ref in self._optimizers:
            opt = ref()
            if opt is None:
                continue
            alive.append(ref)
            state = opt.state.get(param)
            if not state:
                continue
            for name, value in state.items():
                if torch.is_tensor(value) and value.shape == old.shape:
                    grown = value.new_zeros(capacity, self.dim)
                    grown[: old.shape[0]] = value  # old rows keep their moments
                    state[name] = grown
        self._optimizers = alive

    @torch.no_grad()
    def append(self, key: str, vectors: torch.Tensor) -> torch.Tensor:
        """Append ``(k, dim)`` rows to ``key``; returns their ``(k,)`` int64 row ids."""
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(
                f"vectors for table {key!r} must have shape (k, {self.dim}), got {tuple(vectors.shape)}"
            )
        start = self._rows[key]
        end = start + vectors.shape[0]
        capacity = self.tables[key].shape[0]
        if end > capacity:
            while capacity < end:
                capacity *= 2
            self._grow(key, capacity)
        param = self.tables[key]
        param.data[start:end] = vectors.to(device=param.device, dtype=param.dtype)
        self._rows[key] = end
        return torch.arange(start, end)

    @torch.no_grad()
    def write(self, key: str, rows: torch.Tensor, vectors: torch.Tensor) -> None:
        """Overwrite existing ``rows`` ``(k,)`` of ``key`` with ``vectors`` ``(k, dim)``."""
        if rows.numel() and int(rows.max()) >= self._rows[key]:
            raise IndexError(f"row {int(rows.max())} out of range for table {key!r}")
        param = self.tables[key]
        param.data[rows.to(param.device)] = vectors.to(device=param.device, dtype=param.dtype)

    # -- lookup ------------------------------------------------------------------------------
    def lookup(self, key: str, rows: torch.Tensor) -> torch.Tensor:
        """``(N,)`` row ids -> ``(N, dim)``; differentiable (one ``index_select``)."""
        param = self.tables[key]
        return param.index_select(0, rows.to(param.device))

    def forward(self, key: str, rows: torch.Tensor) -> torch.Tensor:
        return self.lookup(key, rows)

    def export(self) -> dict[str, torch.Tensor]:
        """Used rows of every table, detached and contiguous (for safetensors)."""
        return {k: self.tables[k].detach()[:n].contiguous().cpu() for k, n in self._rows.items()}

    def load_tables(self, tensors: dict[str, torch.Tensor]) -> None:
        """Replace all tables by ``tensors`` (``key -> (rows, dim)``), e.g. from `export`."""
        for key, value in tensors.items():
            if value.ndim != 2 or value.shape[1] != self.dim:
                raise ValueError(
                    f"table {key!r} has shape {tuple(value.shape)}, expected (*, {self.dim})"
                )
        self.tables = nn.ParameterDict()
        self._rows = {}
        for key, value in tensors.items():
            self.create_table(key, capacity=max(value.shape[0], 1), like=value)
            self.append(key, value)

"""Collectives for stateful layers under DDP (no-ops in a single process).

Layers whose state is not trained by gradients (EMA codebooks, k-means initialisation, dead-code
restarts) must change it identically on every rank, or the replicas drift apart without an error.
These helpers wrap ``torch.distributed`` so that a layer can call them unconditionally: when no
process group is initialised, or the world has one process, they return their input unchanged.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def world_size() -> int:
    """Processes in the default group (1 when ``torch.distributed`` is not initialised)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def is_distributed() -> bool:
    return world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def all_reduce_sum_(tensor: Tensor) -> Tensor:
    """Sum ``tensor`` over ranks in place; returns it."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_(tensor: Tensor, src: int = 0) -> Tensor:
    """Overwrite ``tensor`` with rank ``src``'s values in place; returns it."""
    if is_distributed():
        dist.broadcast(tensor, src=src)
    return tensor


def gather_rows(x: Tensor) -> Tensor:
    """``(N_r, D)`` on each rank -> ``(sum_r N_r, D)``, rank order, identical on every rank.

    Ranks may hold different numbers of rows (the last batch of an epoch): sizes are exchanged
    first and every rank pads to the largest.
    """
    if not is_distributed():
        return x
    size = torch.tensor([x.shape[0]], device=x.device)
    sizes = [torch.zeros_like(size) for _ in range(world_size())]
    dist.all_gather(sizes, size)
    counts = [int(s) for s in sizes]  # one host read per call: used at initialisation only
    padded = x.new_zeros(max(counts), *x.shape[1:])
    padded[: x.shape[0]] = x
    parts = [torch.empty_like(padded) for _ in counts]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([p[:n] for p, n in zip(parts, counts)])

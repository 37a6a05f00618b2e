"""The data side of fine-tuning PolyTokenizer embeddings with skip-gram negative sampling.

Objective (Mikolov et al., "Distributed Representations of Words and Phrases and their
Compositionality", NeurIPS 2013, eq. 4), for a (center ``w``, context ``c``) pair within ``window``
positions of each other and ``k`` noise tokens ``n_i ~ P(w)^{3/4}``:

    loss = -log σ(x_c'ᵀ x_w) - Σ_i log σ(-x_{n_i}'ᵀ x_w)

This module prepares the pairs, the noise distribution and the held-out check (no Lightning); the
Lightning run is `polytok.systems.poly_finetune.fine_tune_embeddings`. ``x_w`` are the registry's
stored embeddings (the rows of the ``(modality, version)`` table are trained in place; inherited
rows are copied into the version first: copy-on-write).

Held-out check: sequences are split into train / validation; the validation metric is the mean
reciprocal rank (MRR) of each held-out context token among all tokens of the data, ranked by cosine
similarity of registry embeddings to the center token.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from polytok.poly.registry import PolyTokenizer


@dataclass
class FineTuneResult:
    """What a fine-tuning run returns."""

    losses: list[float]  # training loss per step
    val_mrr_before: float  # held-out MRR before training
    val_mrr_after: float  # held-out MRR after training
    num_pairs: int  # training (center, context) pairs
    plot_path: Path | None  # PNG of the loss curve (when output_dir is given)


class SkipGramData(NamedTuple):
    """Everything a SGNS run over one registry table needs (host tensors, int64 rows)."""

    key: str  # the trained table's key, "modality:version"
    table: nn.Parameter  # (capacity, dim) the registry table, trained in place
    train_pairs: torch.Tensor  # (P, 2) center, context rows
    val_pairs: torch.Tensor  # (Q, 2)
    candidates: torch.Tensor  # (C,) rows ranked by the held-out check
    noise: torch.Tensor  # (capacity,) unnormalised P(w)^{3/4} over rows (0 for unused rows)


def skipgram_pairs(sequences: Sequence[Sequence[int]], window: int) -> torch.Tensor:
    """``(P, 2)`` int64 (center, context) pairs of rows within ``window`` positions."""
    pairs = [
        (seq[i], seq[j])
        for seq in sequences
        for i in range(len(seq))
        for j in range(max(0, i - window), min(len(seq), i + window + 1))
        if j != i
    ]
    return torch.tensor(pairs, dtype=torch.int64).view(-1, 2)  # (P, 2)


@torch.no_grad()
def held_out_mrr(table: torch.Tensor, pairs: torch.Tensor, candidates: torch.Tensor) -> float:
    """Mean reciprocal rank of each pair's context among ``candidates`` by cosine to its center."""
    if pairs.numel() == 0:
        return float("nan")
    table = table.detach().cpu()  # a one-off evaluation, on the host
    emb = F.normalize(table[candidates].float(), dim=-1)  # (C, D)
    position = torch.full((table.shape[0],), -1, dtype=torch.int64)
    position[candidates] = torch.arange(len(candidates))
    centers, contexts = position[pairs[:, 0]], position[pairs[:, 1]]
    scores = emb[centers] @ emb.T  # (P, C)
    scores[torch.arange(len(centers)), centers] = -float("inf")  # the center is not a candidate
    target = scores[torch.arange(len(centers)), contexts]  # (P,)
    rank = 1 + (scores > target[:, None]).sum(-1)
    return float((1.0 / rank.float()).mean())


def skipgram_data(
    poly: PolyTokenizer,
    data: Sequence[Sequence[str]],
    modality: str = "text",
    version: str | None = None,
    *,
    window: int = 2,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> SkipGramData:
    """Copy-on-write the tokens of ``data`` into ``(modality, version)``; split and pair them.

    Raises:
        ValueError: bad options, fewer than two sequences, or tokens not registered in the modality.
    """
    if not 0 < val_fraction < 1 or window < 1:
        raise ValueError(f"need 0 < val_fraction < 1 and window >= 1; got {val_fraction}, {window}")
    modality, version = poly.target(modality, version)
    data = [list(seq) for seq in data if len(seq) > 1]
    if len(data) < 2:
        raise ValueError("fine_tune_embeddings needs at least two sequences of length >= 2")
    vocab = list(dict.fromkeys(t for seq in data for t in seq))
    rows = dict(zip(vocab, poly.copy_on_write(vocab, modality, version)))
    sequences = [[rows[t] for t in seq] for seq in data]
    random.Random(seed).shuffle(sequences)
    num_val = max(1, int(len(sequences) * val_fraction))
    train_pairs = skipgram_pairs(sequences[num_val:], window)
    table = poly.embedding.table(f"{modality}:{version}")
    counts = torch.zeros(table.shape[0])
    counts.index_add_(0, train_pairs[:, 0], torch.ones(len(train_pairs)))
    return SkipGramData(
        key=f"{modality}:{version}",
        table=table,
        train_pairs=train_pairs,
        val_pairs=skipgram_pairs(sequences[:num_val], window),
        candidates=torch.tensor(sorted(set(rows.values())), dtype=torch.int64),
        noise=counts.pow(0.75),
    )

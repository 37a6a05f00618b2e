"""Modalities beyond text: semantic IDs of vectors or images as PolyTokenizer tokens.

A semantic ID is a short tuple of codes from a residual quantizer (RQ-KMeans / RQ-VAE: Rajput et
al., "Recommender Systems with Generative Retrieval", NeurIPS 2023); items with similar vectors share
code prefixes. `add_semantic_ids` registers one token per distinct code tuple (``"sid:3-9-1"``) in a
modality, initialised from the mean vector of its items (an informative meta-embedding), projected
to the registry's meta-embedding dimension by a fixed seeded Gaussian map when the dimensions differ
(Johnson-Lindenstrauss: pairwise distances are preserved up to ``1 ± ε`` with high probability).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from polytok.poly.registry import PolyTokenizer


def semantic_id_token(code: Sequence[int], prefix: str = "sid") -> str:
    """``(3, 9, 1) -> "sid:3-9-1"``."""
    return f"{prefix}:" + "-".join(str(int(c)) for c in code)


def random_projection(in_features: int, out_features: int, seed: int = 0) -> torch.Tensor:
    """``(in_features, out_features)`` Gaussian JL map scaled by ``1/sqrt(out_features)``."""
    gen = torch.Generator().manual_seed(seed)
    gauss = torch.randn(in_features, out_features, generator=gen, device="cpu")  # host-seeded
    return gauss / out_features**0.5


def add_semantic_ids(
    poly: PolyTokenizer,
    codes: torch.Tensor,
    vectors: torch.Tensor | None = None,
    modality: str = "image",
    version: str | None = None,
    prefix: str = "sid",
    seed: int = 0,
) -> list[str]:
    """Register the semantic IDs ``codes`` ``(N, L)`` as tokens of ``modality``.

    Args:
        codes: ``(N, L)`` integer codes, one row per item.
        vectors: ``(N, d)`` item vectors; each token starts from the mean of its items' vectors
            (projected to ``poly.in_dim`` if ``d`` differs). None: fallback initialisation.
        modality: created if missing.

    Returns:
        The token of every item (``N`` strings, ``"sid:a-b-c"``).
    """
    codes = torch.as_tensor(codes)
    if codes.ndim != 2 or codes.is_floating_point():
        raise ValueError(
            f"codes must be an (N, L) integer tensor, got {tuple(codes.shape)} {codes.dtype}"
        )
    if modality not in poly.modalities:
        poly.add_modality(modality)
    modality, version = poly.target(modality, version)
    items = [semantic_id_token(row, prefix) for row in codes.tolist()]
    unique = list(dict.fromkeys(items))
    inits = None
    if vectors is not None:
        vectors = torch.as_tensor(vectors, dtype=torch.float32)
        if vectors.ndim != 2 or vectors.shape[0] != codes.shape[0]:
            raise ValueError(
                f"vectors must be (N={codes.shape[0]}, d), one per code row; got {tuple(vectors.shape)}"
            )
        if vectors.shape[1] != poly.in_dim:
            projection = random_projection(vectors.shape[1], poly.in_dim, seed)
            vectors = vectors @ projection.to(vectors.device)  # (N, d) -> (N, in_dim)
        index = {t: i for i, t in enumerate(unique)}
        groups = torch.tensor([index[t] for t in items], device=vectors.device)
        sums = vectors.new_zeros(len(unique), poly.in_dim).index_add_(0, groups, vectors)
        counts = torch.bincount(groups, minlength=len(unique)).clamp_min(1)
        inits = sums / counts[:, None]  # (U, in_dim) mean vector per code
    known = poly.vocab.rows(modality, version)
    fresh = [i for i, t in enumerate(unique) if t not in known]
    if fresh:
        poly.add_tokens(
            [unique[i] for i in fresh], modality, version,
            inits=None if inits is None else inits[fresh],
        )  # fmt: skip
    return items

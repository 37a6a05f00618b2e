"""How well semantic IDs keep neighbourhoods: recall@k, nDCG@k, distance correlation, `evaluate`.

Codes are compared by the hierarchical distance ``L - (length of the common prefix)``: 0 for the
same full code, ``L`` when the first level already differs (a prefix tree, as generative
retrieval decodes IDs level by level; Rajput et al., 2023, "TIGER"). Retrieval by code ranks all
items by that distance; ties (items in the same bucket) are broken by a seeded random order
(``ties="random"``, what a retriever that only sees IDs gets on average) or by index
(``ties="index"``, deterministic, as scikit-learn's neighbour search in semantic-id). The ground truth is the
exact Euclidean k-nearest-neighbour set in the embedding space (itself excluded).
nDCG uses binary relevance (Jarvelin & Kekalainen, 2002): an item is relevant when it is among
the true k nearest neighbours.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from polytok.sid.errors import ShapeMismatchError
from polytok.sid.inputs import as_matrix
from polytok.sid.metrics import code_metrics


def _codes(codes, n: int | None = None) -> Tensor:
    t = torch.as_tensor(np.asarray(codes)) if not isinstance(codes, Tensor) else codes
    if t.dtype.is_floating_point or t.ndim != 2:
        raise ShapeMismatchError(f"codes must be a 2-D integer (N, L) array, got {tuple(t.shape)}")
    if n is not None and t.shape[0] != n:
        raise ShapeMismatchError(f"codes has {t.shape[0]} rows but X has {n}; one code per row")
    return t.long().cpu()


def hierarchical_distance(a, b) -> np.ndarray:
    """Pairwise ``L - common_prefix_length`` between the rows of two code arrays.

    Args:
        a: (N, L) or (L,) integer codes.
        b: (M, L) or (L,) integer codes.

    Returns:
        (N, M) int64 distances in ``[0, L]`` (a scalar array for two single codes).
    """
    single = np.ndim(a) == 1 and np.ndim(b) == 1
    ta, tb = _codes(np.atleast_2d(a)), _codes(np.atleast_2d(b))
    if ta.shape[1] != tb.shape[1]:
        raise ShapeMismatchError(f"codes have {ta.shape[1]} and {tb.shape[1]} levels; need equal")
    dist = _prefix_distance(ta, tb).numpy()
    return dist[0, 0] if single else dist


def _prefix_distance(a: Tensor, b: Tensor) -> Tensor:
    """(N, L), (M, L) -> (N, M): levels after the first difference."""
    levels = a.shape[1]
    same = torch.ones(a.shape[0], b.shape[0], dtype=torch.bool)
    prefix = torch.zeros(a.shape[0], b.shape[0], dtype=torch.long)
    for level in range(levels):
        same &= a[:, level : level + 1] == b[:, level].unsqueeze(0)  # (N, 1) vs (1, M)
        prefix += same
    return levels - prefix


def find_similar(codes, query, k: int = 10, exclude: int | None = None) -> np.ndarray:
    """Indices of the ``k`` items whose codes share the longest prefix with ``query``.

    Args:
        codes: (N, L) codes of the collection.
        query: (L,) code.
        k: how many to return.
        exclude: an index to leave out (the query item itself).

    Returns:
        (min(k, N'),) int64 indices, nearest first; ties in index order.
    """
    c = _codes(codes)
    q = _codes(np.atleast_2d(query))
    dist = _prefix_distance(q, c)[0].double()
    if exclude is not None:
        dist[exclude] = math.inf
    n = int(torch.isfinite(dist).sum())
    order = torch.sort(dist, stable=True).indices[: min(k, n)]
    return order.numpy()


def _queries(n: int, sample_size: int | None, seed: int) -> Tensor:
    if sample_size is None or sample_size >= n:
        return torch.arange(n)
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=gen)[:sample_size].sort().values


def _true_neighbours(x: Tensor, queries: Tensor, k: int, chunk: int = 256) -> Tensor:
    """(Q, k) indices of the exact Euclidean k nearest neighbours, each query excluded."""
    sq = (x * x).sum(1)
    out = []
    for start in range(0, queries.numel(), chunk):
        q = queries[start : start + chunk]
        d = sq[q].unsqueeze(1) + sq.unsqueeze(0) - 2.0 * x[q] @ x.t()  # (q, N)
        d[torch.arange(q.numel()), q] = math.inf
        out.append(d.topk(k, dim=1, largest=False).indices)
    return torch.cat(out)


def _code_neighbours(
    codes: Tensor, queries: Tensor, k: int, seed: int, ties: str, chunk: int = 256
) -> Tensor:
    """(Q, k) items ranked by hierarchical distance, ties broken randomly or by index."""
    n = codes.shape[0]
    if ties == "random":
        jitter = torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    elif ties == "index":
        jitter = torch.arange(n, dtype=torch.float64) / n
    else:
        raise ValueError(f"ties must be 'random' or 'index', got {ties!r}")
    out = []
    for start in range(0, queries.numel(), chunk):
        q = queries[start : start + chunk]
        score = _prefix_distance(codes[q], codes).double() + jitter.unsqueeze(0)  # (q, N)
        score[torch.arange(q.numel()), q] = math.inf
        out.append(score.topk(k, dim=1, largest=False).indices)
    return torch.cat(out)


def _neighbour_sets(X, codes, k: int, sample_size: int | None, seed: int, ties: str):
    x = as_matrix(X).cpu()
    c = _codes(codes, x.shape[0])
    if not 1 <= k < x.shape[0]:
        raise ValueError(f"k must be in [1, N-1] = [1, {x.shape[0] - 1}], got {k}")
    queries = _queries(x.shape[0], sample_size, seed)
    return _true_neighbours(x, queries, k), _code_neighbours(c, queries, k, seed, ties)


def recall_at_k(
    X, codes, k: int = 10, sample_size: int | None = 1000, seed: int = 0, ties: str = "random"
) -> float:
    """Mean share of each query's true k nearest neighbours found in its k nearest by code.

    Args:
        X: (N, D) embeddings.
        codes: (N, L) their codes.
        k: neighbours per query.
        sample_size: number of query items (seeded sample); None uses every item.
        seed: query sample and tie-breaking seed.
        ties: "random" (seeded) or "index" order among items at equal code distance.
    """
    truth, found = _neighbour_sets(X, codes, k, sample_size, seed, ties)
    hits = (found.unsqueeze(2) == truth.unsqueeze(1)).any(2)  # (Q, k)
    return float(hits.double().mean())


def ndcg_at_k(
    X, codes, k: int = 10, sample_size: int | None = 1000, seed: int = 0, ties: str = "random"
) -> float:
    """Mean nDCG@k of retrieval by code, relevance 1 for the true k nearest neighbours.

    ``DCG = sum_i rel_i / log2(i + 2)`` over the k items ranked by code; divided by the DCG of
    the ideal ranking (all k true neighbours first). Same arguments as `recall_at_k`.
    """
    truth, found = _neighbour_sets(X, codes, k, sample_size, seed, ties)
    rel = (found.unsqueeze(2) == truth.unsqueeze(1)).any(2).double()  # (Q, k), rank order
    discount = 1.0 / torch.log2(torch.arange(k, dtype=torch.float64) + 2.0)
    return float(((rel * discount).sum(1) / discount.sum()).mean())


def distance_correlation(X, codes, n_pairs: int = 2000, seed: int = 0) -> float:
    """Spearman correlation of Euclidean and hierarchical code distances over random pairs.

    Returns 0.0 when either distance is constant over the sampled pairs.
    """
    from scipy.stats import spearmanr

    x = as_matrix(X).cpu()
    c = _codes(codes, x.shape[0])
    gen = torch.Generator().manual_seed(seed)
    i = torch.randint(x.shape[0], (n_pairs,), generator=gen)
    j = torch.randint(x.shape[0], (n_pairs,), generator=gen)
    d_x = (x[i] - x[j]).norm(dim=1).numpy()
    d_c = (c.shape[1] - ((c[i] == c[j]).cumprod(1)).sum(1)).numpy()
    if np.ptp(d_x) == 0 or np.ptp(d_c) == 0:
        return 0.0
    return float(spearmanr(d_x, d_c).statistic)


def evaluate(
    X,
    codes,
    model=None,
    k: int = 10,
    sample_size: int | None = 1000,
    n_pairs: int = 2000,
    seed: int = 0,
    codebook_sizes: list[int] | None = None,
) -> dict:
    """All quality figures of semantic IDs for embeddings X.

    Args:
        X: (N, D) embeddings.
        codes: (N, L) codes of X.
        model: the fitted encoder; when given, ``quantization_mse`` (mean over all values of
            ``(X - decode(codes))^2``) and ``rel_mse`` (over the variance of X) are added and
            its codebook sizes are used.
        k, sample_size, seed: see `recall_at_k`.
        n_pairs: pairs for `distance_correlation`.
        codebook_sizes: K per level when no model is given (default: max code + 1).

    Returns:
        ``n_samples``, ``n_unique_codes``, ``collision_rate`` (share of items sharing their full
        code), ``duplicate_rate`` (``1 - unique / N``, semantic-id's "collision rate"),
        ``largest_bucket``, per-level ``usage`` and ``perplexity``, ``recall_at_{k}``,
        ``ndcg_at_{k}``, ``distance_correlation``, and the two MSEs when ``model`` is given.
    """
    x = as_matrix(X).cpu()
    c = _codes(codes, x.shape[0])
    if model is not None:
        sizes = list(model.config.codebook_sizes)
    else:
        sizes = codebook_sizes or [int(c[:, i].max()) + 1 for i in range(c.shape[1])]
    stats = code_metrics(c, sizes)
    out = {
        "n_samples": int(x.shape[0]),
        "n_unique_codes": stats["n_distinct"],
        "collision_rate": stats["collision_rate"],
        "duplicate_rate": stats["duplicate_rate"],
        "largest_bucket": stats["largest_bucket"],
        "usage": stats["usage"],
        "perplexity": stats["perplexity"],
        f"recall_at_{k}": recall_at_k(x, c, k, sample_size, seed),
        f"ndcg_at_{k}": ndcg_at_k(x, c, k, sample_size, seed),
        "distance_correlation": distance_correlation(x, c, n_pairs, seed),
    }
    if model is not None:
        x_hat = torch.as_tensor(np.asarray(model.decode(c.numpy())), dtype=torch.float32)
        err = float((x - x_hat).double().pow(2).sum())
        var = float((x.double() - x.double().mean(0)).pow(2).sum())
        out["quantization_mse"] = err / x.numel()
        out["rel_mse"] = err / var if var > 0 else 0.0
    return out

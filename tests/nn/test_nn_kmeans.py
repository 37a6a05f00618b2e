"""Torch k-means: seeding, chunked Lloyd, empty clusters, balance, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polytok.nn.kmeans import _lloyd, kmeans, kmeans_plusplus, nearest, sq_distances


def mixture(n=3000, dim=8, centers=20, seed=0, spread=0.3):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(centers, dim, generator=g) * 3
    labels = torch.randint(centers, (n,), generator=g)
    return means[labels] + spread * torch.randn(n, dim, generator=g), means


def plain_lloyd(x, centroids, iters):
    for _ in range(iters):
        labels = torch.cdist(x, centroids).argmin(1)
        new = torch.stack(
            [
                x[labels == k].mean(0) if (labels == k).any() else centroids[k]
                for k in range(len(centroids))
            ]
        )
        centroids = new
    return centroids


def test_nearest_matches_cdist_argmin_in_chunks() -> None:
    x, _ = mixture(1000)
    c = torch.randn(37, 8)
    labels, dist = nearest(x, c, chunk_size=128)
    ref = torch.cdist(x, c)
    assert torch.equal(labels, ref.argmin(1))
    torch.testing.assert_close(dist, ref.min(1).values ** 2, rtol=1e-4, atol=1e-4)
    prices = torch.zeros(37)
    prices[5] = 1e6  # a huge price pulls every point to cluster 5
    assert torch.equal(nearest(x, c, prices, chunk_size=100)[0], torch.full((1000,), 5))


def test_chunked_lloyd_equals_plain_lloyd() -> None:
    x, _ = mixture(2000, centers=30, spread=1.0)
    g = torch.Generator().manual_seed(0)
    init = kmeans_plusplus(x, 16, g)
    fast, n_iter = _lloyd(x, init.clone(), 15, -1.0, 256)
    assert n_iter == 15
    torch.testing.assert_close(fast, plain_lloyd(x, init.clone(), 15), rtol=1e-4, atol=1e-4)


def test_kmeans_plusplus_spreads_seeds() -> None:
    x, means = mixture(3000, centers=20, spread=0.05)
    seeds = kmeans_plusplus(x, 20, torch.Generator().manual_seed(0))
    hit = sq_distances(means, seeds).min(1).values < 0.1  # each true centre has a seed near it
    assert int(hit.sum()) >= 18
    random_seeds = x[torch.randperm(3000, generator=torch.Generator().manual_seed(0))[:20]]
    assert int((sq_distances(means, random_seeds).min(1).values < 0.1).sum()) < int(hit.sum())


def test_recovers_clusters_and_is_deterministic() -> None:
    x, means = mixture(3000, centers=20, spread=0.05)
    a = kmeans(x, 20, seed=3)
    b = kmeans(x, 20, seed=3)
    assert torch.equal(a.centroids, b.centroids) and torch.equal(a.labels, b.labels)
    assert sq_distances(means, a.centroids).min(1).values.max() < 0.05
    assert a.inertia == pytest.approx(float(((x - a.centroids[a.labels]) ** 2).sum()), rel=1e-4)


def test_tolerance_and_iteration_limit() -> None:
    x, _ = mixture(2000)
    assert kmeans(x, 10, max_iter=3, tol=0).n_iter == 3
    assert kmeans(x, 10, max_iter=200, tol=1e-2).n_iter < 200


def test_subsampling_trains_on_at_most_max_points_per_centroid(monkeypatch) -> None:
    import polytok.nn.kmeans as km

    seen = []
    original = km._lloyd
    monkeypatch.setattr(km, "_lloyd", lambda x, *a: seen.append(x.shape[0]) or original(x, *a))
    x, _ = mixture(3000)
    result = km.kmeans(x, 4, max_points_per_centroid=100)
    assert seen == [400] and result.labels.shape == (3000,)
    km.kmeans(x, 4, max_points_per_centroid=None)
    assert seen[-1] == 3000


def test_empty_clusters_are_repaired() -> None:
    # 5 distinct points, 5 clusters, duplicated rows: every cluster must end non-empty
    base = torch.tensor([[0.0, 0], [10, 0], [0, 10], [10, 10], [5, 5]])
    x = base.repeat(40, 1)
    result = kmeans(x, 5, max_iter=10)
    assert torch.bincount(result.labels, minlength=5).min() > 0
    assert result.inertia < 1e-3


def test_balanced_mode_equalises_sizes() -> None:
    g = torch.Generator().manual_seed(0)
    # one dense blob and a sparse cloud: plain k-means gives very unequal clusters
    x = torch.cat([0.1 * torch.randn(3000, 4, generator=g), 5 * torch.randn(1000, 4, generator=g)])
    plain = torch.bincount(kmeans(x, 8, seed=0).labels, minlength=8)
    bal = kmeans(x, 8, seed=0, balanced=True)
    sizes = torch.bincount(bal.labels, minlength=8)
    assert plain.max() / plain.min() > 3
    assert int(sizes.max() - sizes.min()) <= 1  # exactly balanced: 4000 / 8 = 500 each
    assert bal.prices.abs().max() > 0


def test_too_many_clusters_raises() -> None:
    with pytest.raises(ValueError, match="larger than the number of samples"):
        kmeans(torch.randn(5, 2), 6)


def test_float64_and_numpy_interop() -> None:
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(500, 3)))
    result = kmeans(x, 4)
    assert result.centroids.dtype == torch.float64

"""Evaluation functions against written-out references on small data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from polytok.sid import RQKMeans, ShapeMismatchError
from polytok.sid.evaluation import (
    distance_correlation,
    evaluate,
    find_similar,
    hierarchical_distance,
    ndcg_at_k,
    recall_at_k,
)
from polytok.sid.inputs import gaussian_mixture

# Five points on a line; items 0-2 share code prefix [0], items 3-4 prefix [1].
X5 = np.array([[0.0], [1.0], [3.0], [100.0], [101.0]], dtype=np.float32)
C5 = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0], [1, 0, 1]])
# true 2-NN: q0 {1,2}, q1 {0,2}, q2 {1,0}, q3 {4,2}, q4 {3,2}
# by code (ties by index): q0 [1,2], q1 [0,2], q2 [0,1], q3 [4,0], q4 [3,0]
IDCG2 = 1 + 1 / math.log2(3)


def test_hierarchical_distance_reference():
    a = [[1, 2, 3]]
    b = [[1, 2, 3], [1, 2, 4], [1, 5, 3], [0, 2, 3]]
    np.testing.assert_array_equal(hierarchical_distance(a, b), [[0, 1, 2, 3]])
    assert hierarchical_distance([4, 4], [4, 5]) == 1
    np.testing.assert_array_equal(hierarchical_distance(C5, C5).diagonal(), 0)
    with pytest.raises(ShapeMismatchError, match="levels"):
        hierarchical_distance([[1, 2]], [[1, 2, 3]])


def test_find_similar_reference():
    codes = [[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 0, 0]]
    np.testing.assert_array_equal(find_similar(codes, [0, 0, 0], k=3, exclude=0), [4, 1, 2])
    np.testing.assert_array_equal(find_similar(codes, [1, 0, 0], k=2), [3, 0])
    assert len(find_similar(codes, [1, 0, 0], k=10, exclude=3)) == 4


def test_recall_and_ndcg_reference():
    recall = recall_at_k(X5, C5, k=2, sample_size=None, ties="index")
    assert recall == pytest.approx((1 + 1 + 1 + 0.5 + 0.5) / 5)
    ndcg = ndcg_at_k(X5, C5, k=2, sample_size=None, ties="index")
    assert ndcg == pytest.approx((3 + 2 * (1 / IDCG2)) / 5)
    # k=1: q0->1 hit, q1->0 hit, q2->0 miss (true 1), q3->4 hit, q4->3 hit
    assert recall_at_k(X5, C5, k=1, sample_size=None, ties="index") == pytest.approx(0.8)
    assert ndcg_at_k(X5, C5, k=1, sample_size=None, ties="index") == pytest.approx(0.8)


def test_random_ties_average_out():
    x = gaussian_mixture(600, 8, 12, seed=1)
    one_level = RQKMeans(1, 12, random_state=0).fit(x).encode(x)  # every bucket is a big tie
    runs = [recall_at_k(x, one_level, k=5, sample_size=None, seed=s) for s in range(3)]
    assert len(set(runs)) > 1 and max(runs) - min(runs) < 0.05
    random_codes = np.random.default_rng(0).integers(0, 12, size=(600, 1))
    assert recall_at_k(x, random_codes, k=5, sample_size=None) < 0.3 * runs[0]


def test_distance_correlation_and_evaluate():
    x = gaussian_mixture(2000, 8, 30, seed=2)
    model = RQKMeans(3, 16, random_state=0).fit(x)
    codes = model.encode(x)
    assert distance_correlation(x, codes, n_pairs=5000) > 0.4
    noise = np.random.default_rng(0).integers(0, 16, size=codes.shape)
    assert abs(distance_correlation(x, noise, n_pairs=5000)) < 0.05
    report = evaluate(x, codes, model=model, k=10, sample_size=200)
    assert report["rel_mse"] == pytest.approx(model.metrics_["rel_mse"], rel=1e-4)
    assert report["quantization_mse"] == pytest.approx(model.metrics_["mse"], rel=1e-4)
    assert report["n_samples"] == 2000 and len(report["usage"]) == 3
    assert 0 < report["recall_at_10"] <= 1 and 0 < report["ndcg_at_10"] <= 1
    assert report["duplicate_rate"] == pytest.approx(1 - report["n_unique_codes"] / 2000)
    with pytest.raises(ShapeMismatchError, match="one code per row"):
        evaluate(x, codes[:10])
    with pytest.raises(ValueError, match="k must be"):
        recall_at_k(X5, C5, k=5)

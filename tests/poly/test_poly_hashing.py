"""Stable hashing and consistent hashing: movement, balance, cross-process identity."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from polytok.poly import hashing
from polytok.poly.hashing import (
    HashRing,
    jump_hash,
    rendezvous_hash,
    rendezvous_rank,
    stable_hash64,
)

KEYS = [f"token-{i}" for i in range(20_000)]


def test_stable_hash_is_64_bit_and_known():
    h = stable_hash64("hello")
    assert 0 <= h < 2**64
    assert h == stable_hash64(b"hello")
    assert stable_hash64("hello", salt="x") != h
    with pytest.raises(ValueError, match="16 bytes"):
        stable_hash64("a", salt="x" * 17)


def test_jump_hash_monotone_growth():
    # Properties of the algorithm (Lamping & Veach 2014): key 0 stays in bucket 0 for any n, and
    # growing n by one either keeps a key's bucket or moves it to the new bucket n - 1.
    assert all(jump_hash(0, n) == 0 for n in range(1, 50))
    assert [jump_hash(k, 1) for k in range(10)] == [0] * 10
    for key in range(200):
        prev = jump_hash(key, 1)
        for n in range(2, 40):
            cur = jump_hash(key, n)
            assert cur == prev or cur == n - 1
            prev = cur


@pytest.mark.parametrize("n", [5, 10, 33])
def test_adding_a_bucket_moves_about_one_over_n_plus_1(n):
    hashes = [stable_hash64(k) for k in KEYS]
    jump_moved = np.mean([jump_hash(h, n) != jump_hash(h, n + 1) for h in hashes])
    nodes = [f"node{i}" for i in range(n)]
    hrw_moved = np.mean(
        [rendezvous_hash(k, nodes) != rendezvous_hash(k, [*nodes, "new"]) for k in KEYS]
    )
    ring = HashRing(nodes, virtual_nodes=1000)
    before = [ring.get_node(k) for k in KEYS]
    ring.add_node("new")
    after = [ring.get_node(k) for k in KEYS]
    ring_moved = np.mean([a != b for a, b in zip(before, after)])
    assert all(b == "new" for a, b in zip(before, after) if a != b)  # only moves to the new node
    expected = 1 / (n + 1)
    for moved in (jump_moved, hrw_moved, ring_moved):
        assert abs(moved - expected) <= 0.1 * expected, (moved, expected)


def test_balance_matches_theory():
    n = 20
    hashes = [stable_hash64(k) for k in KEYS]
    expected = len(KEYS) / n
    for counts in (
        np.bincount([jump_hash(h, n) for h in hashes], minlength=n),
        np.bincount(
            [int(rendezvous_hash(k, [str(i) for i in range(n)])) for k in KEYS], minlength=n
        ),
    ):
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        assert chi2 < 50.0  # chi-square, 19 dof: P(chi2 > 50) < 2e-4 under uniformity
    # ring: a node's share ~ Gamma(v)/n, so the coefficient of variation of shares ~ 1/sqrt(v)
    for v in (16, 256):
        ring = HashRing([f"n{i}" for i in range(40)], virtual_nodes=v)
        points = np.array(ring._points, dtype=np.float64)
        arcs = np.diff(np.concatenate([points, [points[0] + 2.0**64]]))
        owners = np.array(ring._owners)
        shares = np.array([arcs[np.roll(owners, -1) == f"n{i}"].sum() for i in range(40)]) / 2.0**64
        cv = shares.std() / shares.mean()
        assert 0.6 / np.sqrt(v) < cv < 1.4 / np.sqrt(v), (v, cv)


def test_rendezvous_rank_is_an_ordered_fallback_list():
    nodes = [f"n{i}" for i in range(8)]
    for key in KEYS[:200]:
        rank = rendezvous_rank(key, nodes)
        assert sorted(rank) == sorted(nodes) and rank[0] == rendezvous_hash(key, nodes)
        # removing the owner promotes the second choice
        assert rendezvous_hash(key, [n for n in nodes if n != rank[0]]) == rank[1]


def test_identical_across_processes_with_different_hash_seeds():
    # Load hashing.py on its own (no torch import) so the subprocesses start fast.
    path = hashing.__file__
    code = (
        f"import json, importlib.util as u; s=u.spec_from_file_location('h', {path!r}); "
        "h=u.module_from_spec(s); s.loader.exec_module(h); globals().update(vars(h)); "
        "keys=[f'token-{i}' for i in range(300)]; r=HashRing(['a','b','c'], 64); "
        "print(json.dumps([[stable_hash64(k), jump_hash(stable_hash64(k), 17), "
        "rendezvous_hash(k, ['a','b','c']), r.get_node(k), hash(k)] for k in keys]))"
    )
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        res = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outs.append(json.loads(res.stdout))
    stable = [[row[:4] for row in out] for out in outs]
    assert stable[0] == stable[1]
    assert [row[4] for row in outs[0]] != [row[4] for row in outs[1]]  # Python's hash() is salted
    here = [
        [stable_hash64(f"token-{i}"), jump_hash(stable_hash64(f"token-{i}"), 17)]
        for i in range(300)
    ]
    assert here == [row[:2] for row in stable[0]]


def test_errors():
    with pytest.raises(ValueError, match="num_buckets"):
        jump_hash(1, 0)
    ring = HashRing(["a"])
    with pytest.raises(ValueError, match="already"):
        ring.add_node("a")
    ring.remove_node("a")
    with pytest.raises(ValueError, match="no nodes"):
        ring.get_node("k")
    with pytest.raises(ValueError, match="at least one"):
        rendezvous_hash("k", [])

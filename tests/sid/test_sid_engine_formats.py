"""ID formats on model and engine, engine save/load, SinkhornResolver."""

from __future__ import annotations

import numpy as np
import pytest

from polytok.sid import (
    RQVAE,
    InMemoryCollisionStore,
    RQKMeans,
    SemanticIdEngine,
    SQLiteCollisionStore,
    UniqueIdResolver,
    codes_to_ids,
)
from polytok.sid.inputs import gaussian_mixture
from polytok.sid.sinkhorn_resolver import SinkhornResolver


def blobs(n=400, dim=8, centers=6, seed=0) -> np.ndarray:
    return gaussian_mixture(n, dim, centers, seed=seed, scale=3, spread=0.1)


def test_token_format_reference_and_wraparound():
    assert codes_to_ids([[3, 9, 1]], fmt="token") == ["<a_3><b_9><c_1>"]
    row = list(range(28))  # 28 levels: letters wrap after z
    token = codes_to_ids([row], fmt="token")[0]
    assert token.startswith("<a_0><b_1>") and "<z_25><a_26><b_27>" in token
    assert codes_to_ids(np.array([[1, 2]]), sep="/") == ["1/2"]
    assert codes_to_ids([[1, 2]], formatter=lambda r: "item:" + ".".join(map(str, r))) == [
        "item:1.2"
    ]
    with pytest.raises(ValueError, match="fmt must be one of"):
        codes_to_ids([[1]], fmt="hex")
    with pytest.raises(ValueError, match="sep must be"):
        codes_to_ids([[1, 2]], sep="")


def test_model_and_engine_formats():
    x = blobs()
    model = RQKMeans(3, 4, random_state=0).fit(x)
    codes = model.encode(x[:2])
    a, b, c = codes[0]
    assert model.semantic_id(codes[:1], fmt="token") == [f"<a_{a}><b_{b}><c_{c}>"]
    assert model.semantic_id(codes[:1], formatter=lambda r: str(sum(r))) == [str(a + b + c)]
    engine = SemanticIdEngine(model, fmt="token")
    assert engine.semantic_ids(x[:1]) == [f"<a_{a}><b_{b}><c_{c}>"]
    uids = engine.unique_ids(x)
    assert len(set(uids)) == 400 and all(u.startswith("<a_") for u in uids)
    assert any(u.count("<") == 4 for u in uids)  # a collision counter is a 4th level token


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_engine_save_load_round_trip_gives_identical_ids(tmp_path, kind):
    x = blobs()
    store = (
        InMemoryCollisionStore() if kind == "memory" else SQLiteCollisionStore(tmp_path / "i.db")
    )
    engine = SemanticIdEngine(
        RQKMeans(2, 3, random_state=1), UniqueIdResolver(store, style="fixed")
    )
    engine.fit(x)
    ids = engine.unique_ids(x)
    engine.save(tmp_path / "engine")
    loaded = SemanticIdEngine.load(tmp_path / "engine")
    assert loaded.unique_ids(x) == ids  # same items: same IDs (the store came along)
    new = blobs(20, seed=5)
    assert loaded.unique_ids(new) == engine.unique_ids(new) or kind == "memory"
    assert loaded.resolver.style == "fixed" and loaded.fmt == "plain"


def test_engine_load_needs_its_formatter(tmp_path):
    fmt = lambda row: "x" + "_".join(map(str, row))  # noqa: E731
    engine = SemanticIdEngine(RQKMeans(2, 3), formatter=fmt).fit(blobs())
    engine.save(tmp_path / "e")
    with pytest.raises(ValueError, match="custom formatter"):
        SemanticIdEngine.load(tmp_path / "e")
    loaded = SemanticIdEngine.load(tmp_path / "e", formatter=fmt)
    assert loaded.semantic_ids(blobs()[:3]) == engine.semantic_ids(blobs()[:3])
    with pytest.raises(FileNotFoundError, match="no engine.json"):
        SemanticIdEngine.load(tmp_path / "nothing")


@pytest.mark.parametrize("model_kind", ["rqkmeans", "rqvae"])
def test_sinkhorn_resolver_gives_n_unique_ids(model_kind, tmp_path):
    x = blobs(300)
    if model_kind == "rqkmeans":
        model = RQKMeans(2, [4, 128], random_state=0).fit(x)
    else:
        model = RQVAE(in_dim=8, codebook_sizes=[4, 128], e_dim=8, layers=[16])
        model.init_codebooks(__import__("torch").from_numpy(x), batch_size=64)
    plain = SemanticIdEngine(model).semantic_ids(x)
    assert len(set(plain)) < 300  # there are collisions to resolve
    # the untrained RQ-VAE puts > 128 items on one prefix: those need the suffix fallback
    resolver = SinkhornResolver(fallback_suffix=model_kind == "rqvae")
    ids = SemanticIdEngine(model, resolver).unique_ids(x)
    assert len(set(ids)) == 300
    if model_kind == "rqkmeans":
        assert all(i.count("-") == 1 for i in ids)  # no suffix was needed
    assert SemanticIdEngine(model, resolver).unique_ids(x) == ids  # deterministic
    # only colliding items move, and only their last level
    moved = [i for i, (a, b) in enumerate(zip(plain, ids)) if a != b and b.count("-") == 1]
    assert all(plain[i].split("-")[0] == ids[i].split("-")[0] for i in moved)
    from collections import Counter

    counts = Counter(plain)
    assert moved and all(counts[plain[i]] > 1 for i in moved)  # items alone never move


def test_sinkhorn_fallback_suffix_when_a_prefix_is_full():
    x = blobs(200)
    model = RQKMeans(2, [2, 3], random_state=0).fit(x)  # 6 codes for 200 items
    ids = SemanticIdEngine(model, SinkhornResolver()).unique_ids(x)
    assert len(set(ids)) == 200

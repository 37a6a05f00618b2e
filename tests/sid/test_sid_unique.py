"""Collision stores and UniqueIdResolver: idempotence, styles, persistence, real processes."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

import pytest

from polytok.sid import InMemoryCollisionStore, SQLiteCollisionStore, UniqueIdResolver
from polytok.sid.unique import key_hash


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    if request.param == "memory":
        yield InMemoryCollisionStore()
    else:
        s = SQLiteCollisionStore(tmp_path / "ids.db", batch_size=3)  # several transactions
        yield s
        s.close()


def test_suffix_style_and_idempotence(store) -> None:
    resolver = UniqueIdResolver(store)
    ids = resolver.resolve(["1-2", "1-2", "3-4", "1-2"], ["a", "b", "c", "d"])
    assert ids == ["1-2", "1-2-1", "3-4", "1-2-2"]
    # asking again, in another order and mixed with new items, returns the same IDs
    again = resolver.resolve(["1-2", "3-4", "1-2", "3-4"], ["d", "e", "a", "c"])
    assert again == ["1-2-2", "3-4-1", "1-2", "3-4"]
    assert len(store) == 5


def test_fixed_style_adds_one_level(store) -> None:
    resolver = UniqueIdResolver(store, style="fixed", sep=".")
    assert resolver.resolve(["7.1", "7.1", "8.0"], ["x", "y", "z"]) == ["7.1.0", "7.1.1", "8.0.0"]


def test_duplicate_keys_in_one_batch_get_one_id(store) -> None:
    ids = UniqueIdResolver(store).resolve(["5", "5", "5"], ["k", "k", "j"])
    assert ids == ["5", "5", "5-1"]


def test_stored_code_wins_for_known_keys(store) -> None:
    resolver = UniqueIdResolver(store)
    resolver.resolve(["1-1"], ["item"])
    assert resolver.resolve(["9-9"], ["item"]) == ["1-1"]  # an item keeps its first ID


def test_bad_arguments(tmp_path) -> None:
    with pytest.raises(ValueError, match="style must be one of"):
        UniqueIdResolver(style="random")
    with pytest.raises(ValueError, match="one key per code"):
        InMemoryCollisionStore().assign(["a"], ["1", "2"])
    with pytest.raises(ValueError, match="batch_size"):
        SQLiteCollisionStore(tmp_path / "x.db", batch_size=0)
    bad = tmp_path / "not_a_db.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match="not a usable SQLite ID store"):
        SQLiteCollisionStore(bad)


def test_sqlite_persists_across_connections_and_uses_wal(tmp_path) -> None:
    path = tmp_path / "ids.db"
    first = SQLiteCollisionStore(path)
    UniqueIdResolver(first).resolve(["1", "1"], ["a", "b"])
    first.close()
    second = SQLiteCollisionStore(path)
    assert UniqueIdResolver(second).resolve(["1", "1"], ["c", "a"]) == ["1-2", "1"]
    second.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_handles_a_64_bit_hash_clash(tmp_path, monkeypatch) -> None:
    import polytok.sid.unique as unique

    monkeypatch.setattr(unique, "key_hash", lambda key: 1)  # every key clashes
    store = SQLiteCollisionStore(tmp_path / "ids.db")
    resolver = UniqueIdResolver(store)
    assert resolver.resolve(["4", "4", "4"], ["a", "b", "c"]) == ["4", "4-1", "4-2"]
    assert resolver.resolve(["4", "4"], ["c", "a"]) == ["4-2", "4"]
    assert len(store) == 3
    store.close()


def test_key_hash_is_stable() -> None:
    assert key_hash("item-1") == key_hash("item-1") != key_hash("item-2")
    assert key_hash("item-1") == -1951293000747997068  # pinned: never Python's salted hash()


def _worker(path: str, worker: int, queue) -> None:
    store = SQLiteCollisionStore(path, batch_size=7)
    resolver = UniqueIdResolver(store)
    out = []
    # overlapping keys across workers, few codes: many collisions, interleaved transactions
    for start in range(0, 300, 25):
        keys = [f"item-{(i * (worker + 1)) % 400}" for i in range(start, start + 25)]
        codes = [f"{hash_code(k)}" for k in keys]
        out += list(zip(keys, resolver.resolve(codes, keys)))
    store.close()
    queue.put(out)


def hash_code(key: str) -> str:
    return f"{abs(key_hash(key)) % 5}-{abs(key_hash(key)) % 3}"


def test_real_processes_never_hand_out_a_duplicate(tmp_path) -> None:
    path = str(tmp_path / "shared.db")
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(path, w, queue)) for w in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    key_to_id: dict[str, str] = {}
    for pairs in results:
        for key, uid in pairs:
            assert key_to_id.setdefault(key, uid) == uid  # one ID per key across processes
    ids = list(key_to_id.values())
    assert len(ids) == len(set(ids)) > 300  # no two keys share an ID
    store = SQLiteCollisionStore(path)
    assert len(store) == len(key_to_id)
    # the suffixes of each code are exactly 0..n-1: no gaps, no repeats
    by_code: dict[str, int] = {}
    for key in key_to_id:
        by_code[hash_code(key)] = by_code.get(hash_code(key), 0) + 1
    for code, count in by_code.items():
        expected = {code} | {f"{code}-{n}" for n in range(1, count)}
        assert {u for k, u in key_to_id.items() if hash_code(k) == code} == expected
    store.close()

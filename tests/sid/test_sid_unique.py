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


def test_repeated_and_integer_keys_in_one_batch_match_memory(tmp_path) -> None:
    codes, keys = ["3-9-1", "5-0-2", "3-9-1", "5-0-2"], ["SKU1", "SKU1", 7, "7"]
    memory = UniqueIdResolver(InMemoryCollisionStore()).resolve(codes, keys)
    sqlite_store = SQLiteCollisionStore(tmp_path / "ids.db")
    on_disk = UniqueIdResolver(sqlite_store).resolve(codes, keys)
    assert on_disk == memory == ["3-9-1", "3-9-1", "3-9-1-1", "3-9-1-1"]
    # the unused code 5-0-2 got no counter: the next item on it is its first
    assert UniqueIdResolver(sqlite_store).resolve(["5-0-2"], ["new"]) == ["5-0-2"]
    sqlite_store.close()


def test_store_serves_one_layout_and_model(store) -> None:  # reliability B4
    resolver = UniqueIdResolver(store)
    assert resolver.resolve(["1-2-3", "1-2-3"], ["a", "b"], model="m1") == ["1-2-3", "1-2-3-1"]
    with pytest.raises(ValueError, match="layout='plain:3'.*'plain:4'"):
        resolver.resolve(["1-2-3-1"], ["c"], model="m1")  # would duplicate b's ID
    with pytest.raises(ValueError, match="model='m1'.*'m2'"):
        resolver.resolve(["1-2-3"], ["c"], model="m2")
    with pytest.raises(ValueError, match="style"):
        UniqueIdResolver(store, style="fixed").resolve(["1-2-3"], ["c"])
    with pytest.raises(ValueError, match="mixes"):
        UniqueIdResolver(InMemoryCollisionStore()).resolve(["1-2", "1-2-3"], ["x", "y"])


def test_empty_or_digit_separator_is_refused() -> None:
    for sep in ("", "1", "<"):
        with pytest.raises(ValueError, match="sep must be a non-empty string"):
            UniqueIdResolver(sep=sep)


def test_token_format_suffix_is_one_more_level(store) -> None:
    resolver = UniqueIdResolver(store)
    ids = resolver.resolve(["<a_3><b_9>", "<a_3><b_9>", "<a_1><b_0>"], ["p", "q", "r"])
    assert ids == ["<a_3><b_9>", "<a_3><b_9><c_1>", "<a_1><b_0>"]


def test_assign_without_keys_counts_every_item_as_new() -> None:
    resolver = UniqueIdResolver()
    assert resolver.assign(["4-4", "4-4"]) == ["4-4", "4-4-1"]
    assert resolver.assign(["4-4"]) == ["4-4-2"]  # semantic-id: every call adds items


def test_unusable_sqlite_paths_raise_clear_errors(tmp_path) -> None:  # W3.11, W3.12
    with pytest.raises(ValueError, match="is a directory"):
        SQLiteCollisionStore(tmp_path)
    with pytest.raises(ValueError, match="does not exist; create it first"):
        SQLiteCollisionStore(tmp_path / "missing" / "ids.db")
    path = tmp_path / "ro" / "ids.db"
    path.parent.mkdir()
    UniqueIdResolver(SQLiteCollisionStore(path)).resolve(["1-1"], ["old"])
    import os
    import stat

    for p in (path, path.parent):
        os.chmod(p, stat.S_IRUSR | stat.S_IXUSR)
    try:
        if not os.access(path, os.W_OK):  # root ignores the mode bits; see below
            with pytest.raises(ValueError, match="cannot be written"):
                UniqueIdResolver(SQLiteCollisionStore(path)).resolve(["1-1"], ["new"])
    finally:
        os.chmod(path.parent, stat.S_IRWXU)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    blocked = tmp_path / "blocked.db"  # a write that fails for every user: -wal is a directory
    SQLiteCollisionStore(blocked).close()
    (tmp_path / "blocked.db-wal").mkdir()
    with pytest.raises(ValueError, match="cannot be written"):
        UniqueIdResolver(SQLiteCollisionStore(blocked)).resolve(["1-1"], ["new"])

"""Collision-free semantic IDs: collision stores and `UniqueIdResolver`.

Semantic IDs collide (similar items share a full code), so a store hands out a per-code counter
``n``: the first item on code ``12-4-1`` gets ``n = 0``, the next ``n = 1``. The store also keeps
item key -> (code, n), so asking again for the same items returns the same IDs (idempotent).
`SQLiteCollisionStore` assigns in batched ``BEGIN IMMEDIATE`` transactions (WAL journal), which
serialise writers across processes, so concurrent processes never hand out a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

STYLES = ("suffix", "fixed")


def key_hash(key: str) -> int:
    """Signed 64-bit BLAKE2b hash of ``key`` (stable across processes, unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


class CollisionStore(Protocol):
    """Maps item keys to ``(code, n)``; ``n`` counts earlier items on the same code."""

    def assign(self, keys: Sequence[str], codes: Sequence[str]) -> list[tuple[str, int]]:
        """(code, n) per item; known keys return their stored pair unchanged."""
        ...


def _check_batch(keys: Sequence[str], codes: Sequence[str]) -> None:
    if len(keys) != len(codes):
        raise ValueError(f"got {len(keys)} keys for {len(codes)} codes; pass one key per code")


class InMemoryCollisionStore:
    """A thread-safe in-process store (lost when the process exits)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, int]] = {}
        self._next: dict[str, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def assign(self, keys: Sequence[str], codes: Sequence[str]) -> list[tuple[str, int]]:
        _check_batch(keys, codes)
        out = []
        with self._lock:
            for key, code in zip(keys, codes):
                found = self._items.get(key)
                if found is None:
                    n = self._next.get(code, 0)
                    self._next[code] = n + 1
                    found = self._items[key] = (code, n)
                out.append(found)
        return out


class SQLiteCollisionStore:
    """A persistent store shared safely by threads and processes.

    Args:
        path: database file (created with its tables if missing).
        batch_size: items per transaction.
        timeout: seconds to wait for another writer's lock.
    """

    def __init__(self, path: str | os.PathLike, batch_size: int = 20000, timeout: float = 60.0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.path = Path(path)
        self.batch_size, self.timeout = batch_size, timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._connect()

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # never reuse a forked connection
            conn = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            try:
                conn.execute("PRAGMA page_size=16384")  # before the first table: fewer B-tree pages
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA wal_autocheckpoint=4096")  # 64 MiB of 16 KiB pages
                conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: B-tree pages stay cached
                # Items are keyed by a 64-bit hash of the key (integer rowid: fast lookups and
                # inserts); the key text is stored and checked, and the rare key whose hash is
                # taken by another key lives in `overflow`, keyed by its text.
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, key TEXT NOT NULL, "
                    "code TEXT NOT NULL, n INTEGER NOT NULL)"
                )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS overflow (key TEXT PRIMARY KEY, code TEXT NOT NULL, "
                    "n INTEGER NOT NULL) WITHOUT ROWID"
                )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS counters (code TEXT PRIMARY KEY, "
                    "next INTEGER NOT NULL) WITHOUT ROWID"
                )
            except sqlite3.DatabaseError as err:
                conn.close()
                raise ValueError(f"{self.path} is not a usable SQLite ID store: {err}") from err
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def __len__(self) -> int:
        with self._lock:
            conn = self._connect()
            count = "SELECT (SELECT COUNT(*) FROM items) + (SELECT COUNT(*) FROM overflow)"
            return conn.execute(count).fetchone()[0]

    def __getstate__(self) -> dict:  # picklable for multiprocessing: reconnect in the child
        state = self.__dict__.copy()
        state.update(_conn=None, _pid=-1, _lock=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @staticmethod
    def _select(conn, sql: str, values: list) -> list[tuple]:
        """Run ``sql`` with its ``IN ({})`` bound to ``values`` (one JSON array parameter)."""
        if not values:
            return []
        return conn.execute(
            sql.format("SELECT value FROM json_each(?)"), (json.dumps(values),)
        ).fetchall()

    def _assign_batch(self, conn, keys: Sequence[str], codes: Sequence[str]) -> list:
        conn.execute("BEGIN IMMEDIATE")  # take the write lock before reading the counters
        try:
            unique_keys = list(dict.fromkeys(keys))
            hashes = {k: key_hash(k) for k in unique_keys}
            rows = self._select(
                conn, "SELECT id, key, code, n FROM items WHERE id IN ({})", list(hashes.values())
            )
            taken = {h: (k, c, n) for h, k, c, n in rows}
            known: dict[str, tuple[str, int]] = {}
            clashing = []
            for k, h in hashes.items():
                row = taken.get(h)
                if row is not None:
                    if row[0] == k:
                        known[k] = (row[1], row[2])
                    else:
                        clashing.append(k)
            for k, c, n in self._select(
                conn, "SELECT key, code, n FROM overflow WHERE key IN ({})", clashing
            ):
                known[k] = (c, n)
            new_codes = list(dict.fromkeys(c for k, c in zip(keys, codes) if k not in known))
            counters = dict(
                self._select(conn, "SELECT code, next FROM counters WHERE code IN ({})", new_codes)
            )
            seen_codes = set(counters)
            inserts, overflow = [], []
            for key, code in zip(keys, codes):
                if key not in known:
                    n = counters.get(code, 0)
                    counters[code] = n + 1
                    known[key] = (code, n)
                    h = hashes[key]
                    if h in taken:
                        overflow.append((key, code, n))
                    else:
                        taken[h] = (key, code, n)
                        inserts.append((h, key, code, n))
            inserts.sort()  # rowid order: B-tree appends touch neighbouring pages
            conn.executemany("INSERT INTO items (id, key, code, n) VALUES (?, ?, ?, ?)", inserts)
            conn.executemany("INSERT INTO overflow (key, code, n) VALUES (?, ?, ?)", overflow)
            conn.executemany(  # plain inserts for unseen codes are cheaper than upserts
                "INSERT INTO counters (code, next) VALUES (?, ?)",
                [(c, counters[c]) for c in new_codes if c not in seen_codes],
            )
            conn.executemany(
                "UPDATE counters SET next = ? WHERE code = ?",
                [(counters[c], c) for c in seen_codes],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return [known[k] for k in keys]

    def assign(self, keys: Sequence[str], codes: Sequence[str]) -> list[tuple[str, int]]:
        _check_batch(keys, codes)
        out: list[tuple[str, int]] = []
        with self._lock:
            conn = self._connect()
            for i in range(0, len(keys), self.batch_size):
                out += self._assign_batch(
                    conn, keys[i : i + self.batch_size], codes[i : i + self.batch_size]
                )
        return out


class UniqueIdResolver:
    """Turns semantic IDs into unique IDs through a `CollisionStore`.

    Args:
        store: where assignments live; default `InMemoryCollisionStore`.
        style: "suffix" (``12-4-1``, then ``12-4-1-1``, ``12-4-1-2``) or "fixed" (always one
            more level: ``12-4-1-0``, ``12-4-1-1``).
        sep: separator between levels.
    """

    def __init__(self, store: CollisionStore | None = None, style: str = "suffix", sep: str = "-"):
        if style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {style!r}")
        self.store = store if store is not None else InMemoryCollisionStore()
        self.style, self.sep = style, sep

    def resolve(self, semantic_ids: Sequence[str], keys: Sequence[str]) -> list[str]:
        """Unique ID per item; the same key always gets the same ID (idempotent)."""
        pairs = self.store.assign(list(keys), list(semantic_ids))
        if self.style == "fixed":
            return [f"{code}{self.sep}{n}" for code, n in pairs]
        return [code if n == 0 else f"{code}{self.sep}{n}" for code, n in pairs]

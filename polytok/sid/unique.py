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
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from polytok.sid.layout import check_binding, check_sep, layout_of, suffixed

STYLES = ("suffix", "fixed")


def key_hash(key: str) -> int:
    """Signed 64-bit BLAKE2b hash of ``key`` (stable across processes, unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


class CollisionStore(Protocol):
    """Maps item keys to ``(code, n)``; ``n`` counts earlier items on the same code."""

    def assign(self, keys: Sequence[str], codes: Sequence[str]) -> list[tuple[str, int]]:
        """(code, n) per item; known keys return their stored pair unchanged."""
        ...

    def bind(self, settings: dict) -> dict:
        """Record (first use) or check (later) what the store serves; see `polytok.sid.layout`."""
        ...


def _check_batch(keys: Sequence[str], codes: Sequence[str]) -> None:
    if len(keys) != len(codes):
        raise ValueError(f"got {len(keys)} keys for {len(codes)} codes; pass one key per code")


def _keys(keys: Sequence) -> list[str]:
    """Item keys as strings (``5`` and ``"5"`` are the same item in every store)."""
    return [k if isinstance(k, str) else str(k) for k in keys]


class InMemoryCollisionStore:
    """A thread-safe in-process store (lost when the process exits)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, int]] = {}
        self._next: dict[str, int] = {}
        self._settings: dict = {}
        self._lock = threading.Lock()

    def bind(self, settings: dict) -> dict:
        with self._lock:
            self._settings = check_binding(self._settings, settings, "this in-memory store")
            return dict(self._settings)

    def state(self) -> dict:
        """JSON-ready contents (for `SemanticIdEngine.save`)."""
        with self._lock:
            items = [[k, c, n] for k, (c, n) in self._items.items()]
            return {"items": items, "next": dict(self._next), "settings": dict(self._settings)}

    @classmethod
    def from_state(cls, state: dict) -> InMemoryCollisionStore:
        """A store holding `state`'s contents.

        Raises:
            ValueError: malformed state.
        """
        store = cls()
        try:
            store._items = {str(k): (str(c), int(n)) for k, c, n in state["items"]}
            store._next = {str(c): int(n) for c, n in state["next"].items()}
            store._settings = dict(state.get("settings", {}))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"malformed in-memory store state: {err}") from err
        return store

    def __len__(self) -> int:
        return len(self._items)

    def assign(self, keys: Sequence[str], codes: Sequence[str]) -> list[tuple[str, int]]:
        _check_batch(keys, codes)
        keys = _keys(keys)
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


def _unusable(path: Path, err: Exception) -> str:
    """A message for SQLite's open/write failures that says what to fix."""
    if path.is_dir():
        return f"the ID store {str(path)!r} is a directory; name a database file, e.g. ids.db"
    if not path.parent.is_dir():
        return f"the directory of the ID store {str(path)!r} does not exist; create it first"
    return (
        f"the ID store {str(path)!r} cannot be written ({err}); check its permissions (and those "
        "of its directory, which holds the -wal and -shm files), or use another file"
    )


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
            try:
                conn = sqlite3.connect(
                    self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
                )
            except sqlite3.OperationalError as err:
                raise ValueError(_unusable(self.path, err)) from err
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
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
                )
            except sqlite3.OperationalError as err:
                conn.close()
                raise ValueError(_unusable(self.path, err)) from err
            except sqlite3.DatabaseError as err:
                conn.close()
                raise ValueError(f"{self.path} is not a usable SQLite ID store: {err}") from err
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def bind(self, settings: dict) -> dict:
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as err:
                raise ValueError(_unusable(self.path, err)) from err
            try:
                recorded = dict(conn.execute("SELECT name, value FROM meta").fetchall())
                merged = check_binding(recorded, settings, f"the ID store {str(self.path)!r}")
                conn.executemany(
                    "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                    [(k, str(v)) for k, v in merged.items() if recorded.get(k) != v],
                )
                conn.execute("COMMIT")
            except BaseException as err:
                conn.execute("ROLLBACK")
                if isinstance(err, sqlite3.OperationalError):
                    raise ValueError(_unusable(self.path, err)) from err
                raise
            return merged

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
            # a repeated new key takes the code of its first occurrence, so some codes in
            # new_codes may get no item: only codes with a counter are written
            conn.executemany(  # plain inserts for unseen codes are cheaper than upserts
                "INSERT INTO counters (code, next) VALUES (?, ?)",
                [(c, counters[c]) for c in new_codes if c not in seen_codes and c in counters],
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
        keys = _keys(keys)
        out: list[tuple[str, int]] = []
        with self._lock:
            conn = self._connect()
            for i in range(0, len(keys), self.batch_size):
                try:
                    out += self._assign_batch(
                        conn, keys[i : i + self.batch_size], codes[i : i + self.batch_size]
                    )
                except sqlite3.OperationalError as err:
                    raise ValueError(_unusable(self.path, err)) from err
        return out


class UniqueIdResolver:
    """Turns semantic IDs into unique IDs through a `CollisionStore`.

    Unique by construction: the store records the layout of the IDs it serves (plain or token
    format and the level count), the separator, the style and the model (when given), and
    refuses batches that differ, so a suffix can never be read as a level (`polytok.sid.layout`).

    Args:
        store: where assignments live; default `InMemoryCollisionStore`.
        style: "suffix" (``12-4-1``, then ``12-4-1-1``, ``12-4-1-2``) or "fixed" (always one
            more level: ``12-4-1-0``, ``12-4-1-1``). Token-format IDs get the counter as one more
            level token (``<a_3><b_9><c_1><d_1>``).
        sep: separator before the counter; non-empty, without digits.

    Raises:
        ValueError: an unknown style or an unusable separator (``sep=""`` included).
    """

    def __init__(self, store: CollisionStore | None = None, style: str = "suffix", sep: str = "-"):
        if style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {style!r}")
        check_sep(sep)
        self.store = store if store is not None else InMemoryCollisionStore()
        self.style, self.sep = style, sep

    def resolve(
        self,
        semantic_ids: Sequence[str],
        keys: Sequence,
        model: str | None = None,
        layout: str | None = None,
    ) -> list[str]:
        """Unique ID per item; the same key always gets the same ID (idempotent).

        Args:
            semantic_ids: N semantic IDs of one layout.
            keys: N item keys (strings or ints; ``5`` and ``"5"`` are the same item).
            model: an identity of the model that made the IDs (`model_fingerprint`); a store
                that recorded another model refuses the batch.
            layout: ``"plain:L"`` / ``"token:L"`` from callers that formatted the IDs from (N, L)
                codes themselves (the engine, the CLI); None checks the strings (`layout_of`).
        """
        semantic_ids = list(semantic_ids)
        _check_batch(keys, semantic_ids)
        layout = layout or layout_of(semantic_ids, self.sep)
        settings = {"layout": layout, "sep": self.sep, "style": self.style, "model": model}
        if semantic_ids:
            self.store.bind(settings)
        pairs = self.store.assign(_keys(keys), semantic_ids)
        if self.style == "fixed":
            return [suffixed(code, n, layout, self.sep) for code, n in pairs]
        return [code if n == 0 else suffixed(code, n, layout, self.sep) for code, n in pairs]

    def assign(self, semantic_ids: Sequence[str], keys: Sequence | None = None) -> list[str]:
        """semantic-id's ``assign``: without keys every item is new (a fresh random key each),
        so calling twice hands out new suffixes, as that library does; pass keys for
        idempotent IDs (`resolve`)."""
        if keys is None:
            keys = [uuid.uuid4().hex for _ in semantic_ids]
        return self.resolve(semantic_ids, list(keys))

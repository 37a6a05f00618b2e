"""L2: token counts in a SQLite file (WAL journal, every write in a transaction).

Single ``put`` calls are written behind (`polytok.count.write_behind`): they wait in a small
in-memory buffer (visible to ``get`` at once) that a background thread commits in one transaction
within ``flush_interval_s`` of the first, or as soon as ``max_pending`` entries wait, so a cache
miss does not pay a commit (~20-300 us here). ``put_many``
and ``flush`` commit synchronously; ``close`` and interpreter exit flush.

Crash safety: SQLite's write-ahead log makes each committed transaction atomic, so a process
killed while writing loses at most the transaction in flight, never a count stored before
(``tests/count/test_count_cache.py`` kills a writer with SIGKILL and checks). With
``synchronous=NORMAL`` a committed transaction survives a process crash; only a power loss may roll
back the last commits, and the file is never corrupted.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence

from polytok.count.tier_stats import TierStats
from polytok.count.write_behind import WriteBehind

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counts (
    key BLOB PRIMARY KEY,   -- 16-byte blake2b of (namespace, text)
    count INTEGER NOT NULL,
    expires REAL            -- unix time, NULL = never
) WITHOUT ROWID
"""
_MAX_VARS = 500  # parameters per IN (...) query, below SQLite's default limit


def _open(path: str) -> sqlite3.Connection:
    """Open (or create) the cache database, naming the file and the fix when it is unusable.

    Raises:
        ValueError: ``path`` is a directory, not a SQLite database, corrupt, or not writable.
    """
    if os.path.isdir(path):
        raise ValueError(
            f"cache database {path!r} is a directory; pass a file path such as {path}/counts.db"
        )
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    except (OSError, sqlite3.Error) as err:
        raise ValueError(f"cannot open cache database {path!r}: {err}") from err
    try:
        conn.execute("PRAGMA busy_timeout=2000")
        conn.execute("PRAGMA schema_version").fetchone()  # reads the header: garbage fails here
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(_SCHEMA)
    except sqlite3.Error as err:
        conn.close()
        raise ValueError(
            f"cache database {path!r} is unusable ({err}): it is not a SQLite database, is "
            "corrupt or truncated, or is not writable. It was left untouched; move it away "
            "(the cache is rebuilt from scratch) or pass another --cache-db"
        ) from err
    return conn


class SQLiteTier:
    """L2 tier over one SQLite file, shared by threads through one connection and a lock.

    Args:
        path: the database file (its directory is created).
        ttl_s: seconds a count stays valid (``None``: forever).
        flush_interval_s: how long the background writer gathers ``put`` calls into one commit.
        max_pending: buffered entries that trigger an early commit.
    """

    name = "disk"

    def __init__(
        self,
        path: str | os.PathLike,
        ttl_s: float | None = None,
        flush_interval_s: float = 0.05,
        max_pending: int = 512,
    ) -> None:
        self.path = os.fspath(path)
        self.ttl_s = ttl_s
        self.flush_interval_s = flush_interval_s
        self.max_pending = max_pending
        self._conn = _open(self.path)
        self._lock = threading.Lock()
        self.stats = TierStats()
        if ttl_s is not None:
            self.prune()
        # buffered value: (count, expiry)
        self._buffer = WriteBehind(
            self._store_batch, flush_interval_s, max_pending, name="polytok-l2-writer"
        )

    def _expiry(self) -> float | None:
        return None if self.ttl_s is None else time.time() + self.ttl_s

    def get(self, key: bytes) -> int | None:
        start = time.perf_counter()
        pending = self._buffer.get(key)
        if pending is not None:
            self.stats.hits += 1
            self.stats.get_seconds += time.perf_counter() - start
            return pending[0]
        try:
            with self._lock:
                row = self._conn.execute(
                    "SELECT count, expires FROM counts WHERE key = ?", (key,)
                ).fetchone()
        except sqlite3.Error as err:
            self._error(err)
            row = None
        if row is not None and row[1] is not None and row[1] < time.time():
            row = None
        self.stats.get_seconds += time.perf_counter() - start
        if row is None:
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return int(row[0])

    def get_many(self, keys: Sequence[bytes]) -> list[int | None]:
        found: dict[bytes, tuple[int, float | None]] = {}
        start = time.perf_counter()
        pending = self._buffer.snapshot()  # before the file: see polytok.count.write_behind
        try:
            with self._lock:
                for i in range(0, len(keys), _MAX_VARS):
                    chunk = list(keys[i : i + _MAX_VARS])
                    marks = ",".join("?" * len(chunk))
                    sql = f"SELECT key, count, expires FROM counts WHERE key IN ({marks})"
                    found.update((k, (c, e)) for k, c, e in self._conn.execute(sql, chunk))
        except sqlite3.Error as err:
            self._error(err)
        found.update(pending)  # buffered writes are newer than the file
        now = time.time()
        out = [
            int(found[k][0]) if k in found and (found[k][1] is None or found[k][1] >= now) else None
            for k in keys
        ]
        hits = sum(v is not None for v in out)
        self.stats.hits += hits
        self.stats.misses += len(keys) - hits
        self.stats.get_seconds += time.perf_counter() - start
        return out

    def put(self, key: bytes, value: int) -> None:
        """Buffer one count; the background writer commits it shortly (see the module doc)."""
        self._buffer.put(key, (int(value), self._expiry()))

    def flush(self) -> None:
        """Commit buffered ``put`` calls now, in one transaction."""
        self._buffer.flush()

    def _store_batch(self, items: list[tuple[bytes, tuple[int, float | None]]]) -> None:
        self._commit([(k, v, e) for k, (v, e) in items])

    def put_many(self, items: Sequence[tuple[bytes, int]]) -> None:
        """Store all ``items`` now, in one transaction (all or nothing)."""
        expires = self._expiry()
        self._commit([(k, int(v), expires) for k, v in items])

    def _commit(self, rows: list[tuple[bytes, int, float | None]]) -> None:
        try:
            with self._lock:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.executemany(
                        "INSERT OR REPLACE INTO counts (key, count, expires) VALUES (?, ?, ?)", rows
                    )
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
            self.stats.writes += len(rows)
        except sqlite3.Error as err:
            self._error(err)

    def prune(self) -> int:
        """Delete expired rows; returns how many."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            cur = self._conn.execute("DELETE FROM counts WHERE expires < ?", (time.time(),))
            self._conn.execute("COMMIT")
        return cur.rowcount

    def _error(self, err: Exception) -> None:
        if self.stats.errors == 0:
            logger.warning("L2 SQLite cache %s failed (%s); treating as a miss", self.path, err)
        self.stats.errors += 1

    def size(self) -> int:
        self.flush()
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM counts").fetchone()[0])

    def clear(self) -> None:
        self._buffer.clear()
        with self._lock:
            self._conn.execute("DELETE FROM counts")

    def close(self) -> None:
        """Flush buffered writes, stop the writer thread and close the file."""
        if self._buffer.closed:
            return
        self._buffer.close()
        with self._lock:
            self._conn.close()

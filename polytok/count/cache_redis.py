"""L3: token counts in Redis (redis-py), with short timeouts and self-healing on outages.

When Redis is down or drops a connection, the failing call counts an error and acts as a miss;
the first failure of an outage is logged at WARNING (once), and the tier stays quiet (no network
calls at all) for a backoff that doubles from ``backoff_s`` up to ``max_backoff_s``. The next call
after the backoff tries again on a fresh connection; success logs "reconnected" and resets the
backoff. Counting never waits longer than one socket timeout on Redis.

Writes go behind: `RedisTier.put` buffers the count (visible to this tier's reads at once) and
wakes a background thread, which waits ``flush_interval_s`` (2 ms) for more and then stores the
batch in one pipeline. A cold count so costs one round trip (the lookup), not two; other
processes see it a few milliseconds later. `flush`, `size`, `close` and interpreter exit store
what is buffered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from polytok.count.tier_stats import TierStats
from polytok.count.write_behind import WriteBehind

logger = logging.getLogger(__name__)
T = TypeVar("T")
KEY_PREFIX = b"polytok:count:"


class RedisTier:
    """L3 tier on a Redis server.

    Args:
        url: ``redis://host:port/db``.
        ttl_s: seconds a count stays valid (``None``: forever).
        timeout_s: socket connect and read timeout.
        backoff_s: first pause after a failure before trying again (doubles per failure).
        max_backoff_s: cap of the pause.
        flush_interval_s: how long the background writer gathers ``put`` calls into one batch.
    """

    name = "redis"

    def __init__(
        self,
        url: str,
        ttl_s: float | None = None,
        timeout_s: float = 0.05,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        flush_interval_s: float = 0.002,
    ) -> None:
        self.url = url
        self.ttl_s = None if ttl_s is None else max(1, int(ttl_s))
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),  # we decide when to retry, not redis-py
            health_check_interval=0,
        )
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._next_backoff = backoff_s
        self.down = False
        self.reconnects = 0
        self.skipped = 0
        self.stats = TierStats()
        self._buffer = WriteBehind(self.put_many, flush_interval_s, name="polytok-l3-writer")

    def _call(self, fn: Callable[[], T]) -> T | None:
        """Run ``fn`` unless inside a backoff; on failure count, log once and back off."""
        if self.down and time.monotonic() < self._down_until:
            self.skipped += 1
            return None
        try:
            result = fn()
        except (redis.RedisError, OSError) as err:
            with self._lock:
                self.stats.errors += 1
                if not self.down:
                    logger.warning(
                        "L3 Redis cache %s unavailable (%s: %s); counting goes on without it, "
                        "retrying in %.1fs",
                        self.url,
                        type(err).__name__,
                        err,
                        self._next_backoff,
                    )
                self.down = True
                self._down_until = time.monotonic() + self._next_backoff
                self._next_backoff = min(self._next_backoff * 2, self.max_backoff_s)
            return None
        if self.down:
            with self._lock:
                if self.down:
                    self.down = False
                    self.reconnects += 1
                    self._next_backoff = self.backoff_s
                    logger.info("L3 Redis cache %s reconnected", self.url)
        return result

    def get(self, key: bytes) -> int | None:
        start = time.perf_counter()
        pending = self._buffer.get(key)
        if pending is not None:  # written behind, not yet stored
            self.stats.hits += 1
            return pending
        raw = self._call(lambda: self._client.get(KEY_PREFIX + key))
        self.stats.get_seconds += time.perf_counter() - start
        value = _as_count(raw)
        if value is None:
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return value

    def get_many(self, keys: Sequence[bytes]) -> list[int | None]:
        start = time.perf_counter()
        pending = self._buffer.snapshot()  # before the store: see polytok.count.write_behind
        raw = self._call(lambda: self._client.mget([KEY_PREFIX + k for k in keys]))
        out = [_as_count(v) for v in (raw or [None] * len(keys))]
        out = [pending.get(k, v) for k, v in zip(keys, out)]
        hits = sum(v is not None for v in out)
        self.stats.hits += hits
        self.stats.misses += len(keys) - hits
        self.stats.get_seconds += time.perf_counter() - start
        return out

    def put(self, key: bytes, value: int) -> None:
        """Buffer one count; the background writer stores it within milliseconds."""
        self._buffer.put(key, int(value))

    def flush(self) -> None:
        """Store the buffered counts now, in one pipeline."""
        self._buffer.flush()

    def put_many(self, items: Sequence[tuple[bytes, int]]) -> None:
        def run() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            for key, value in items:
                pipe.set(KEY_PREFIX + key, int(value), ex=self.ttl_s)
            return pipe.execute()

        if self._call(run) is not None:
            self.stats.writes += len(items)

    def size(self) -> int | None:
        """Keys in the Redis database (all of them, not only polytok's); ``None`` when down."""
        self.flush()
        value = self._call(self._client.dbsize)
        return None if value is None else int(value)

    def clear(self) -> None:
        """Delete polytok's count keys (SCAN + DEL by prefix)."""

        def run() -> None:
            for keys in _chunks(self._client.scan_iter(match=KEY_PREFIX + b"*", count=1000), 500):
                self._client.delete(*keys)

        self._buffer.clear()
        self._call(run)

    def close(self) -> None:
        """Store buffered writes, stop the writer thread and close the connections."""
        if not self._buffer.closed:
            self._buffer.close()
            self._client.close()


def _as_count(raw: bytes | None) -> int | None:
    """A stored count, or ``None`` for a missing or foreign (non-integer) value."""
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        logger.debug("ignoring non-integer value %r in Redis", raw[:32])
        return None


def _chunks(items: Any, size: int) -> Any:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

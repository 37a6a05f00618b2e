"""L3: token counts in Redis (redis-py), with short timeouts and self-healing on outages.

When Redis is down or drops a connection, the failing call counts an error and acts as a miss;
the first failure of an outage is logged at WARNING (once), and the tier stays quiet (no network
calls at all) for a backoff that doubles from ``backoff_s`` up to ``max_backoff_s``. The next call
after the backoff tries again on a fresh connection; success logs "reconnected" and resets the
backoff. Counting never waits longer than one socket timeout on Redis.

Writes go behind: `RedisTier.put` buffers the count (visible to this tier's reads at once) and
wakes a background thread, which waits ``flush_interval_s`` (10 ms) for more and then stores the
batch in one pipeline. A cold count so costs one round trip (the lookup), not two; other
processes see it about 10 ms later. `flush`, `size`, `close` and interpreter exit store what is
buffered. Lookups and writes use connections the tier keeps itself (`RedisTier._on_connection`),
which skip redis-py's per-command pool bookkeeping.

On an event loop (`polytok.count.TokenCounter.acount`, the service) `aget` looks up on
``redis.asyncio`` connections of that loop and `put` leaves the batch to a task on the loop, so
no thread is woken; `aclose` closes those connections on their loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis
import redis.asyncio
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
        flush_interval_s: float = 0.01,
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
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()  # see `_on_connection`
        self._pid = os.getpid()
        self._apool = redis.asyncio.ConnectionPool.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )  # makes the connections of `aget`, which keeps them itself
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._aidle: list[Any] = []
        self._tasks: set[asyncio.Task] = set()
        self._interval = flush_interval_s
        self._aflush_due: asyncio.TimerHandle | None = None
        self._aflush_loop: asyncio.AbstractEventLoop | None = None

    def _call(self, fn: Callable[[], T]) -> T | None:
        """Run ``fn`` unless inside a backoff; on failure count, log once and back off."""
        if self._backing_off():
            return None
        try:
            result = fn()
        except (redis.RedisError, OSError) as err:
            self._failed(err)
            return None
        self._succeeded()
        return result

    async def _acall(self, fn: Callable[[], Awaitable[T]]) -> T | None:
        """`_call` for a coroutine function."""
        if self._backing_off():
            return None
        try:
            result = await fn()
        except (redis.RedisError, OSError, asyncio.TimeoutError) as err:
            self._failed(err)
            return None
        self._succeeded()
        return result

    def _backing_off(self) -> bool:
        if self.down and time.monotonic() < self._down_until:
            self.skipped += 1
            return True
        return False

    def _failed(self, err: BaseException) -> None:
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

    def _succeeded(self) -> None:
        if self.down:
            with self._lock:
                if self.down:
                    self.down = False
                    self.reconnects += 1
                    self._next_backoff = self.backoff_s
                    logger.info("L3 Redis cache %s reconnected", self.url)

    def get(self, key: bytes) -> int | None:
        start = time.perf_counter()
        found = self._buffer.get(key)  # written behind, not yet stored
        if found is None:
            found = self._counted(self._call(lambda: self._get(KEY_PREFIX + key)), start)
        else:
            self.stats.hits += 1
        return found

    def _counted(self, raw: bytes | None, start: float) -> int | None:
        """The count in a GET reply, recorded in the stats as a hit or a miss."""
        self.stats.get_seconds += time.perf_counter() - start
        value = _as_count(raw)
        if value is None:
            self.stats.misses += 1
        else:
            self.stats.hits += 1
        return value

    def _on_connection(self, fn: Callable[[Any], T]) -> T:
        """``fn(connection)`` on a connection of this tier's own, bypassing redis-py's
        per-command pool bookkeeping (a readiness poll and metrics: about 60 us of the 110 us a
        GET cost through ``Redis.get``). A connection that fails is dropped, never reused with
        a reply half-read."""
        if self._pid != os.getpid():  # a forked child opens its own connections
            self._idle, self._pid = queue.SimpleQueue(), os.getpid()
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._client.connection_pool.make_connection()
        try:
            result = fn(conn)
        except BaseException:
            conn.disconnect()
            raise
        self._idle.put(conn)
        return result

    def _get(self, key: bytes) -> bytes | None:
        def run(conn: Any) -> bytes | None:
            conn.send_command("GET", key)
            return conn.read_response()

        return self._on_connection(run)

    async def aget(self, key: bytes) -> int | None:
        """`get` for an event loop: the lookup waits on the loop, not in a thread.

        A worker-thread hop cost about 150 us of CPU on top of the 50 us lookup (thread
        wake-ups and GIL hand-offs, scripts/bench_count.py), so the service's lookups in L3
        use asyncio connections of the running loop (redis-py's ``redis.asyncio``).
        """
        start = time.perf_counter()
        found = self._buffer.get(key)
        if found is None:
            found = self._counted(await self._acall(lambda: self._aget(KEY_PREFIX + key)), start)
        else:
            self.stats.hits += 1
        return found

    async def _aget(self, key: bytes) -> bytes | None:
        async def run(conn: Any) -> bytes | None:
            await conn.send_command("GET", key)
            return await conn.read_response()

        return await self._on_aconnection(run)

    async def _on_aconnection(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        """`_on_connection` for asyncio connections of the running loop."""
        loop = asyncio.get_running_loop()
        if self._aloop is not loop:  # connections belong to one loop: a new loop opens its own
            self._aloop, self._aidle = loop, []
        conn = self._aidle.pop() if self._aidle else self._apool.make_connection()
        try:
            result = await fn(conn)
        except BaseException:  # never reused with a reply half-read
            self._hold(loop.create_task(conn.disconnect(nowait=True)))
            raise
        self._aidle.append(conn)
        return result

    def _hold(self, task: asyncio.Task) -> None:
        """Keep a reference to ``task`` until it is done (the loop keeps weak ones)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        """Buffer one count; it is stored ``flush_interval_s`` later in one pipeline with the
        others: by a task of the running event loop when called on one (`TokenCounter.acount`;
        waking the writer thread for every write cost about 5% of the service's throughput on 2
        cores), else by the background writer thread."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._buffer.put(key, int(value), wake=loop is None)
        if loop is not None and (self._aflush_due is None or self._aflush_loop is not loop):
            self._aflush_due = loop.call_later(self._interval, self._start_aflush, loop)
            self._aflush_loop = loop

    def _start_aflush(self, loop: asyncio.AbstractEventLoop) -> None:
        self._aflush_due = None  # writes from now on wait for the next batch
        self._hold(loop.create_task(self._aflush()))

    async def _aflush(self) -> None:
        items = list(self._buffer.snapshot().items())
        if not items:
            return
        commands = self._set_commands(items)

        async def run(conn: Any) -> list[Any]:
            await conn.send_packed_command(conn.pack_commands(commands))
            return [await conn.read_response() for _ in commands]

        if await self._acall(lambda: self._on_aconnection(run)) is not None:
            self.stats.writes += len(items)
        self._buffer.forget(items)  # stored, or given up like `put_many` does on an outage

    def _set_commands(self, items: Sequence[tuple[bytes, int]]) -> list[tuple[Any, ...]]:
        expiry = ("EX", self.ttl_s) if self.ttl_s is not None else ()
        return [("SET", KEY_PREFIX + key, int(value), *expiry) for key, value in items]

    def flush(self) -> None:
        """Store the buffered counts now, in one pipeline."""
        self._buffer.flush()

    def put_many(self, items: Sequence[tuple[bytes, int]]) -> None:
        commands = self._set_commands(items)

        def run(conn: Any) -> list[Any]:  # one pipelined write, then every reply
            conn.send_packed_command(conn.pack_commands(commands))
            return [conn.read_response() for _ in commands]

        if self._call(lambda: self._on_connection(run)) is not None:
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

    async def aclose(self) -> None:
        """Store what a loop's task would have, close the asyncio connections (on their loop), then
        `close`."""
        if self._aflush_due is not None:
            self._aflush_due.cancel()
            self._aflush_due = None
        if self._aloop is asyncio.get_running_loop():
            await self._aflush()
            for conn in self._aidle:
                await conn.disconnect(nowait=True)
        self._aidle = []
        self.close()

    def close(self) -> None:
        """Store buffered writes, stop the writer thread and close the connections (the
        asyncio ones of `aget` only through `aclose`, on their loop)."""
        if not self._buffer.closed:
            self._buffer.close()
            while not self._idle.empty():
                self._idle.get_nowait().disconnect()
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

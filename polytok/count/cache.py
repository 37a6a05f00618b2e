"""Three-tier read-through cache of token counts: L1 memory, L2 SQLite on disk, L3 Redis.

``TieredCache.get(namespace, text)`` asks L1, then L2, then L3 and promotes a hit into the faster
tiers; ``put`` writes every tier. The *namespace* names what produced the count (strategy, encoding
and a tokenizer fingerprint, see `polytok.count.counter`), so a changed tokenizer never serves a
stale count. L2 and L3 are keyed by a 128-bit blake2b digest of both; L1 by ``(namespace, text)``
for texts shorter than ``CacheConfig.memory_digest_chars`` and by the same digest from there on,
so that it never holds long texts alive (see `DIGEST_KEY_CHARS`). Values are plain ints, never
pickles. Each tier is optional; a failing L2/L3 counts the error and acts as a miss.

Texts shorter than ``min_cache_chars`` skip the cache and texts shorter than
``min_remote_chars`` skip L2/L3: below those lengths encoding costs less than what a lookup risks
(the break-evens are measured by ``scripts/bench_count.py``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from polytok.count.tier_stats import TierStats

# Measured break-evens (scripts/bench_count.py, "Cache break-even"): the shortest text for which,
# at a 50% hit rate, a hit saves more than a miss adds. L1 costs a string hash and a dict lookup;
# L2 adds a blake2b digest and a SQLite lookup; L3 a network round trip to Redis (about 125 us
# of CPU each way on loopback, more than counting 1 KB), so it pays only for long texts.
DEFAULT_MIN_CACHE_CHARS = 32
DEFAULT_MIN_REMOTE_CHARS = 512
DEFAULT_MIN_SHARED_CHARS = 8192
# The default `CacheConfig.memory_digest_chars`: L1 keeps texts from this length under their
# 16-byte digest, not as themselves. Shorter texts are their own key: Python's string hash (about
# 1 us per KB, cached on the object: hitting a 4 KB text again costs about 2 us) is cheaper than
# the digest (blake2b of the UTF-8, about 4 us per KB), and the texts held count against
# `CacheConfig.memory_max_chars`. Longer ones, which use L3 and so need the digest anyway, are
# not held. The service lowers it to `SERVICE_DIGEST_CHARS` (see there).
DIGEST_KEY_CHARS = 8192
# Every request brings the service a new string (its hash is computed anyway) and a stream of
# texts it has not seen: held as L1 keys, they cost it 7-10% of its throughput on cold texts
# (scripts/bench_count.py: 0.87x against 0.94x the bare endpoint with 16 KB texts over the same
# 12 rounds; 0.79-0.82x against 0.90-0.93x with 1 KB texts).
SERVICE_DIGEST_CHARS = 512


@dataclass
class CacheConfig:
    """Which tiers to use and how.

    Attributes:
        memory: enable L1 (in-process LRU).
        memory_max_entries: L1 capacity; least recently used entries are evicted beyond it.
        memory_max_chars: characters of the texts L1 holds as keys (those shorter than
            ``memory_digest_chars``); least recently used entries are evicted beyond it.
        memory_digest_chars: L1 keys texts from this length by their 16-byte digest instead of
            holding them (see `DIGEST_KEY_CHARS`).
        memory_ttl_s: L1 time to live in seconds (``None``: entries never expire).
        disk_path: SQLite file for L2 (``None``: no L2).
        disk_ttl_s: L2 time to live (``None``: never expires).
        redis_url: ``redis://host:port/db`` for L3 (``None``: no L3).
        redis_ttl_s: L3 time to live (``None``: never expires).
        redis_timeout_s: socket connect/read timeout for Redis; short, so an outage costs little.
        redis_backoff_s: first wait before reconnecting after a Redis error (doubles, capped).
        min_cache_chars: texts shorter than this skip the cache entirely.
        min_remote_chars: texts shorter than this skip L2 and L3 (they still use L1).
        min_shared_chars: texts shorter than this skip L3 (the shared Redis tier).
    """

    memory: bool = True
    memory_max_entries: int = 100_000
    memory_max_chars: int = 64 * 2**20
    memory_digest_chars: int = DIGEST_KEY_CHARS
    memory_ttl_s: float | None = 3600.0
    disk_path: str | None = None
    disk_ttl_s: float | None = None
    redis_url: str | None = None
    redis_ttl_s: float | None = 7 * 24 * 3600.0
    redis_timeout_s: float = 0.05
    redis_backoff_s: float = 1.0
    min_cache_chars: int = DEFAULT_MIN_CACHE_CHARS
    min_remote_chars: int = DEFAULT_MIN_REMOTE_CHARS
    min_shared_chars: int = DEFAULT_MIN_SHARED_CHARS

    def __post_init__(self) -> None:
        for name in ("memory_max_entries", "memory_max_chars"):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"{name} must be >= 1, got {getattr(self, name)}; "
                    "use memory=False to switch L1 off"
                )
        for name in ("memory_ttl_s", "disk_ttl_s", "redis_ttl_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0 seconds or None (no expiry), got {value}")
        if self.redis_timeout_s <= 0 or self.redis_backoff_s <= 0:
            raise ValueError(
                f"redis_timeout_s and redis_backoff_s must be > 0, got {self.redis_timeout_s} and "
                f"{self.redis_backoff_s}"
            )
        if self.memory_digest_chars < 0:
            raise ValueError(
                f"memory_digest_chars must be >= 0, got {self.memory_digest_chars} "
                "(0: every text is keyed by its digest)"
            )
        limits = (self.min_cache_chars, self.min_remote_chars, self.min_shared_chars)
        if min(limits) < 0:
            raise ValueError(
                "min_cache_chars, min_remote_chars and min_shared_chars must be >= 0, got "
                f"{limits[0]}, {limits[1]} and {limits[2]}"
            )


class MemoryTier:
    """L1: a thread-safe LRU dict with optional TTL, bounded in entries and in the characters of
    the strings in its tuple keys (``(namespace, text)``; other keys weigh nothing).

    Args:
        max_entries: capacity in entries.
        ttl_s: seconds an entry stays valid (``None``: forever).
        max_chars: capacity in characters of held texts (``None``: no limit).
    """

    name = "memory"

    def __init__(
        self, max_entries: int = 100_000, ttl_s: float | None = None, max_chars: int | None = None
    ) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self.max_chars = max_chars
        self.chars = 0  # characters of the texts held in keys
        self._data: OrderedDict[Any, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = TierStats()

    def get(self, key: Any) -> int | None:
        start = time.perf_counter()
        with self._lock:
            item = self._data.get(key)
            if item is not None and item[1] < start:
                del self._data[key]
                self.chars -= _held_chars(key)
                item = None
            if item is None:
                self.stats.misses += 1
            else:
                self._data.move_to_end(key)
                self.stats.hits += 1
            self.stats.get_seconds += time.perf_counter() - start
        return None if item is None else item[0]

    def put(self, key: Any, value: int) -> None:
        expires = time.perf_counter() + self.ttl_s if self.ttl_s is not None else float("inf")
        with self._lock:
            if key not in self._data:
                self.chars += _held_chars(key)
            self._data[key] = (value, expires)
            self._data.move_to_end(key)
            self.stats.writes += 1
            while len(self._data) > self.max_entries or (
                self.max_chars is not None and self.chars > self.max_chars and self._data
            ):
                self.chars -= _held_chars(self._data.popitem(last=False)[0])

    def size(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.chars = 0

    def close(self) -> None:
        self.clear()


def _held_chars(key: Any) -> int:
    """Characters of the strings in a tuple key (an L1 ``(namespace, text)``)."""
    return sum(len(part) for part in key if isinstance(part, str)) if isinstance(key, tuple) else 0


def digest_key(namespace: str, text: str) -> bytes:
    """128-bit blake2b of ``namespace`` and ``text`` (the L2/L3 key)."""
    h = hashlib.blake2b(namespace.encode("utf-8"), digest_size=16)
    h.update(b"\x00")
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.digest()


class TieredCache:
    """Read-through L1 -> L2 -> L3 with promotion on hit (see the module docstring).

    Args:
        config: which tiers to open.
    """

    def __init__(self, config: CacheConfig | None = None) -> None:
        self.config = config or CacheConfig()
        c = self.config
        self.memory = (
            MemoryTier(c.memory_max_entries, c.memory_ttl_s, c.memory_max_chars)
            if c.memory
            else None
        )
        self.disk = None
        self.redis = None
        if c.disk_path is not None:
            from polytok.count.cache_sqlite import SQLiteTier

            self.disk = SQLiteTier(c.disk_path, ttl_s=c.disk_ttl_s)
        if c.redis_url is not None:
            from polytok.count.cache_redis import RedisTier

            self.redis = RedisTier(
                c.redis_url,
                ttl_s=c.redis_ttl_s,
                timeout_s=c.redis_timeout_s,
                backoff_s=c.redis_backoff_s,
            )
        self.digest_chars = c.memory_digest_chars
        self.min_cache_chars = c.min_cache_chars
        self.min_remote_chars = max(c.min_cache_chars, c.min_remote_chars)
        self.min_shared_chars = max(self.min_remote_chars, c.min_shared_chars)
        self._remote = [t for t in (self.disk, self.redis) if t is not None]

    def _tiers(self, size: int) -> list[Any]:
        """The L2/L3 tiers a text of ``size`` characters uses (L3 only from min_shared_chars)."""
        if size < self.min_remote_chars:
            return []
        if size < self.min_shared_chars:
            return [self.disk] if self.disk is not None else []
        return self._remote

    def uses_shared_tier(self, text: str) -> bool:
        """Whether counting ``text`` may wait on the network (L3 round trips)."""
        return self.redis is not None and len(text) >= self.min_shared_chars

    def get(self, namespace: str, text: str, *, always: bool = False) -> int | None:
        """The cached count of ``text`` under ``namespace``, or ``None``."""
        return self.lookup(namespace, text, always=always)[0]

    def _memory_key(
        self, namespace: str, text: str, key: bytes | None = None
    ) -> tuple[Any, bytes | None]:
        """``(L1's key, digest or None)``: L1 keys ``(namespace, text)`` below
        ``memory_digest_chars`` and the digest (computed once, or the ``key`` given) from there."""
        if len(text) < self.digest_chars:
            return (namespace, text), key
        key = key or digest_key(namespace, text)
        return key, key

    def lookup(
        self, namespace: str, text: str, *, always: bool = False, shared: bool = True
    ) -> tuple[int | None, bytes | None]:
        """``(count or None, digest or None)``; pass the digest back to `put` after a miss so
        that a long text is hashed once. Short texts skip tiers (see `CacheConfig`) unless
        ``always`` (for counts that are expensive at any length, e.g. online ones).
        ``shared=False`` leaves L3 out (`alookup` awaits it instead)."""
        size = len(text) if not always else 1 << 62
        if size < self.min_cache_chars:
            return None, None
        key = None
        if self.memory is not None:
            mkey, key = self._memory_key(namespace, text)
            value = self.memory.get(mkey)
            if value is not None:
                return value, key
        tiers = self._tiers(size)
        if not shared:
            tiers = [tier for tier in tiers if tier is not self.redis]
        if not tiers:
            return None, key
        key = key or digest_key(namespace, text)
        for tier in tiers:
            value = tier.get(key)
            if value is not None:
                self._promote(namespace, text, key, value, above=tier)
                return value, key
        return None, key

    async def alookup(self, namespace: str, text: str) -> tuple[int | None, bytes | None]:
        """`lookup` for an event loop: L1 and L2 (local, microseconds) as in `lookup`, L3
        awaited on the loop (`RedisTier.aget`) instead of blocking it."""
        n, key = self.lookup(namespace, text, shared=False)
        if n is not None or not self.uses_shared_tier(text):
            return n, key
        key = key or digest_key(namespace, text)
        n = await self.redis.aget(key)
        if n is not None:
            self._promote(namespace, text, key, n, above=self.redis)
        return n, key

    def _promote(self, namespace: str, text: str, key: bytes, value: int, above: Any) -> None:
        if self.memory is not None:
            self.memory.put(self._memory_key(namespace, text, key)[0], value)
        if above is self.redis and self.disk is not None:
            self.disk.put(key, value)

    def put(
        self,
        namespace: str,
        text: str,
        value: int,
        key: bytes | None = None,
        *,
        always: bool = False,
    ) -> None:
        """Store ``value`` in every tier (``key``: the digest `lookup` returned, if any)."""
        size = len(text) if not always else 1 << 62
        if size < self.min_cache_chars:
            return
        if self.memory is not None:
            mkey, key = self._memory_key(namespace, text, key)
            self.memory.put(mkey, value)
        tiers = self._tiers(size)
        if tiers:
            key = key or digest_key(namespace, text)
            for tier in tiers:
                tier.put(key, value)

    def get_many(self, namespace: str, texts: Sequence[str]) -> list[int | None]:
        """Cached counts of ``texts`` (``None`` where missing); L2/L3 asked in one round trip."""
        out: list[int | None] = [None] * len(texts)
        keys: dict[int, bytes] = {}  # digests, computed once per text
        todo = [i for i, t in enumerate(texts) if len(t) >= self.min_cache_chars]
        if self.memory is not None:
            for i in todo:
                mkey, key = self._memory_key(namespace, texts[i])
                if key is not None:
                    keys[i] = key
                out[i] = self.memory.get(mkey)
            todo = [i for i in todo if out[i] is None]
        todo = [i for i in todo if len(texts[i]) >= self.min_remote_chars]
        if not todo or not self._remote:
            return out
        for i in todo:
            keys.setdefault(i, digest_key(namespace, texts[i]))
        for tier in self._remote:
            asked = [i for i in todo if tier in self._tiers(len(texts[i]))]
            if not asked:
                continue
            found = dict(zip(asked, tier.get_many([keys[i] for i in asked])))
            for i, value in found.items():
                if value is not None:
                    out[i] = value
                    self._promote(namespace, texts[i], keys[i], value, above=tier)
            todo = [i for i in todo if out[i] is None]
            if not todo:
                break
        return out

    def put_many(self, namespace: str, texts: Sequence[str], values: Sequence[int]) -> None:
        """Store many counts; L2 in one transaction, L3 in one pipeline."""
        if self.memory is None and not self._remote:
            return
        keyed = [
            (t, v, *self._memory_key(namespace, t))
            for t, v in zip(texts, values)
            if len(t) >= self.min_cache_chars
        ]
        if self.memory is not None:
            for _, value, mkey, _ in keyed:
                self.memory.put(mkey, value)
        remote = [
            (len(t), key or digest_key(namespace, t), v)
            for t, v, _, key in keyed
            if len(t) >= self.min_remote_chars
        ]
        for tier in self._remote if remote else ():
            items = [(key, v) for size, key, v in remote if tier in self._tiers(size)]
            if items:
                tier.put_many(items)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per-tier hits, misses, hit rate, size, errors, writes and mean lookup latency (us)."""
        out = {}
        for tier in (self.memory, self.disk, self.redis):
            if tier is not None:
                out[tier.name] = tier.stats.as_dict(tier.size())
        return out

    def clear(self) -> None:
        """Empty every tier (L3: only polytok's keys)."""
        for tier in (self.memory, self.disk, self.redis):
            if tier is not None:
                tier.clear()

    async def aclose(self) -> None:
        """`close`, closing L3's asyncio connections on the running loop first."""
        if self.redis is not None:
            await self.redis.aclose()
        self.close()

    def close(self) -> None:
        for tier in (self.memory, self.disk, self.redis):
            if tier is not None:
                tier.close()

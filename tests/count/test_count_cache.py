"""L1 memory and L2 SQLite tiers, keys, promotion, crash safety, the short-text threshold."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from polytok.count import CacheConfig, TieredCache, TokenCounter
from polytok.count.cache import (
    DEFAULT_MIN_CACHE_CHARS,
    DEFAULT_MIN_REMOTE_CHARS,
    MemoryTier,
    digest_key,
)
from polytok.count.cache_sqlite import SQLiteTier

LONG = "The quick brown fox jumps over the lazy dog. " * 20


def test_memory_lru_and_ttl() -> None:
    tier = MemoryTier(max_entries=2, ttl_s=0.05)
    tier.put("a", 1)
    tier.put("b", 2)
    assert tier.get("a") == 1  # a is now most recent
    tier.put("c", 3)  # evicts b
    assert tier.get("b") is None and tier.get("c") == 3
    time.sleep(0.06)
    assert tier.get("a") is None and tier.size() == 1
    stats = tier.stats.as_dict(tier.size())
    assert stats["hits"] == 2 and stats["misses"] == 2 and stats["hit_rate"] == 0.5


def test_memory_thread_safe() -> None:
    tier = MemoryTier(max_entries=100)

    def work(seed: int) -> None:
        for i in range(2000):
            tier.put((seed, i % 150), i)
            tier.get((seed, (i * 7) % 150))

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tier.size() == 100
    assert tier.stats.hits + tier.stats.misses == 8000


def test_sqlite_persists_and_promotes(tmp_path) -> None:
    path = str(tmp_path / "counts.db")
    counter = TokenCounter(cache=CacheConfig(disk_path=path))
    first = counter.count("gpt-4o", LONG)
    assert not first.cached
    counter.close()
    fresh = TokenCounter(cache=CacheConfig(disk_path=path))  # new process-like: empty L1
    again = fresh.count("gpt-4o", LONG)
    assert again.cached and again.count == first.count
    stats = fresh.cache.stats()
    assert stats["disk"]["hits"] == 1 and stats["memory"]["misses"] == 1
    assert fresh.count("gpt-4o", LONG).cached
    assert fresh.cache.stats()["memory"]["hits"] == 1  # promoted into L1
    assert stats["disk"]["size"] == 1 and stats["disk"]["mean_latency_us"] > 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    fresh.close()


def test_sqlite_ttl_and_batch(tmp_path) -> None:
    tier = SQLiteTier(tmp_path / "t.db", ttl_s=0.05)
    tier.put_many([(b"k" * 16, 5), (b"j" * 16, 6)])
    assert tier.get_many([b"k" * 16, b"x" * 16, b"j" * 16]) == [5, None, 6]
    time.sleep(0.06)
    assert tier.get(b"k" * 16) is None
    assert tier.prune() == 2 and tier.size() == 0


def test_keys_include_strategy_encoding_and_fingerprint() -> None:
    counter = TokenCounter(cache=CacheConfig(min_cache_chars=0))
    a = counter._lookup("gpt-4o")[1].namespace
    b = counter._lookup("gpt-4")[1].namespace
    c = counter._lookup("claude-3-opus")[1].namespace
    assert a.startswith("tiktoken|o200k_base|") and b.startswith("tiktoken|cl100k_base|")
    assert c.startswith("approx-script|cl100k_base|")
    assert len({a, b, c}) == 3
    assert digest_key(a, "x") != digest_key(a + "0", "x")
    # the same text under a changed fingerprint is a miss: no stale counts
    cache = TieredCache(CacheConfig(min_cache_chars=0))
    cache.put("tiktoken|o200k_base|aaaa", LONG, 1)
    assert cache.get("tiktoken|o200k_base|bbbb", LONG) is None


def test_short_texts_skip_the_cache(tmp_path) -> None:
    counter = TokenCounter(cache=CacheConfig(disk_path=str(tmp_path / "c.db")))
    assert 0 < DEFAULT_MIN_CACHE_CHARS < DEFAULT_MIN_REMOTE_CHARS
    short = "hi there"
    counter.count("gpt-4o", short)
    assert not counter.count("gpt-4o", short).cached
    assert counter.cache.stats()["memory"]["misses"] == 0  # never looked up
    medium = "y" * DEFAULT_MIN_CACHE_CHARS  # L1 only
    counter.count("gpt-4o", medium)
    assert counter.count("gpt-4o", medium).cached
    assert (
        counter.cache.stats()["disk"]["misses"] == 0 and counter.cache.stats()["disk"]["size"] == 0
    )
    long = "x" * DEFAULT_MIN_REMOTE_CHARS  # every tier
    counter.count_batch("gpt-4o", [long, short, medium])
    assert counter.cache.stats()["disk"]["size"] == 1
    assert [r.cached for r in counter.count_batch("gpt-4o", [long, short, medium])] == [
        True,
        False,
        True,
    ]


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="memory_max_entries"):
        CacheConfig(memory_max_entries=0)
    with pytest.raises(ValueError, match="memory_ttl_s"):
        CacheConfig(memory_ttl_s=-1)
    assert TokenCounter(cache=None).count("gpt-4o", LONG).cached is False


WRITER = textwrap.dedent(
    """
    import sys
    from polytok.count.cache_sqlite import SQLiteTier
    tier = SQLiteTier(sys.argv[1])
    i = 0
    while True:
        tier.put_many([(i.to_bytes(16, "big"), i) for i in range(i, i + 50)])
        i += 50
        print(i, flush=True)  # everything below i is committed
    """
)


def test_sqlite_survives_sigkill_mid_write(tmp_path) -> None:
    path = str(tmp_path / "crash.db")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, path], stdout=subprocess.PIPE, text=True)
    committed = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        committed = int(line)
        if committed >= 2000:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    tier = SQLiteTier(path)
    keys = [i.to_bytes(16, "big") for i in range(committed)]
    assert tier.get_many(keys) == list(range(committed))  # nothing committed was lost
    assert tier.size() >= committed


def test_sqlite_write_behind_visible_then_committed(tmp_path) -> None:
    path = tmp_path / "wb.db"
    tier = SQLiteTier(path, flush_interval_s=60)  # the background writer will not fire
    tier.put(b"a" * 16, 7)
    assert tier.get(b"a" * 16) == 7 and tier.get_many([b"a" * 16]) == [7]  # read your writes
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM counts").fetchone()[0] == 0  # still buffered
    tier.close()  # flushes
    assert SQLiteTier(path).get(b"a" * 16) == 7
    fast = SQLiteTier(tmp_path / "fast.db", flush_interval_s=0.01)
    fast.put(b"b" * 16, 9)
    deadline = time.monotonic() + 5
    while fast.stats.writes == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fast.stats.writes == 1  # committed by the background writer


def test_l1_keys_long_texts_by_digest_and_never_holds_them() -> None:
    """From memory_digest_chars on, L1 holds a 16-byte digest, not the text (a 16 KB text kept as
    a key holds 32-64 KB); lookups through every entry point agree on the key either side."""
    from polytok.count.cache import DIGEST_KEY_CHARS, SERVICE_DIGEST_CHARS

    assert CacheConfig().memory_digest_chars == DIGEST_KEY_CHARS > SERVICE_DIGEST_CHARS
    for limit in (DIGEST_KEY_CHARS, SERVICE_DIGEST_CHARS, 0):
        cache = TieredCache(CacheConfig(memory_digest_chars=limit, min_cache_chars=0))
        short, long = "s" * max(0, limit - 1), "l" * max(1, limit)
        cache.put("ns", short, 1)
        cache.put("ns", long, 2)
        keys = list(cache.memory._data)
        assert keys[1] == digest_key("ns", long)
        assert keys[0] == (("ns", short) if limit else digest_key("ns", short))
        assert cache.get("ns", short) == 1 and cache.get("ns", long) == 2
        assert cache.lookup("ns", long) == (2, digest_key("ns", long))
        assert cache.get("other-ns", long) is None  # the namespace is part of the digest
        cache.put_many("ns", [short + "!", long + "!"], [3, 4])
        assert cache.get_many("ns", [short + "!", long + "!", long]) == [3, 4, 2]
        assert cache.memory.chars == (len(short) + 2 if limit else 0)  # short + "!" is long
    with pytest.raises(ValueError, match="memory_digest_chars"):
        CacheConfig(memory_digest_chars=-1)
    from polytok.service import ServiceSettings

    service = ServiceSettings(api_key=None).build_counter()
    assert service.cache.digest_chars == SERVICE_DIGEST_CHARS  # new strings every request


def test_l1_holds_at_most_max_chars_of_text() -> None:
    """Texts held in L1 keys are bounded in characters too: least recently used go first."""
    tier = MemoryTier(max_entries=100, max_chars=250)
    for i in range(3):
        tier.put(("n", str(i) * 99), i)  # 100 characters each, namespace included
    assert tier.size() == 2 and tier.chars == 200  # the first (oldest) was evicted
    assert tier.get(("n", "0" * 99)) is None and tier.get(("n", "2" * 99)) == 2
    tier.put(b"a digest key weighs nothing", 9)
    assert tier.size() == 3 and tier.chars == 200
    tier.put(("n", "1" * 99), 11)  # an update does not count twice
    assert tier.chars == 200 and tier.get(("n", "1" * 99)) == 11
    tier.clear()
    assert tier.chars == 0
    cache = TieredCache(CacheConfig(memory_max_chars=1000))
    for i in range(30):
        cache.put("n", f"{i:03d}" + "x" * 96, i)
    assert cache.memory.size() == 10 and cache.memory.chars == 1000
    assert cache.get("n", "029" + "x" * 96) == 29 and cache.get("n", "019" + "x" * 96) is None
    with pytest.raises(ValueError, match="memory_max_chars"):
        CacheConfig(memory_max_chars=0)

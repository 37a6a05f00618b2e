"""L3 Redis tier against a real redis-server: hits, promotion, outage mid-run, reconnection."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import redis

from polytok.count import CacheConfig, TokenCounter
from polytok.tokenizers import get_tokenizer

pytestmark = pytest.mark.redis
LONG = "Redis caches token counts for long prompts. " * 200  # >= min_shared_chars


def test_redis_hit_promotes_to_disk_and_memory(redis_server, tmp_path) -> None:
    writer = TokenCounter(cache=CacheConfig(redis_url=redis_server.url))
    first = writer.count("gpt-4o", LONG)
    assert not first.cached and writer.cache.stats()["redis"]["writes"] == 1
    reader = TokenCounter(
        cache=CacheConfig(redis_url=redis_server.url, disk_path=str(tmp_path / "l2.db"))
    )
    second = reader.count("gpt-4o", LONG)
    assert second.cached and second.count == first.count
    stats = reader.cache.stats()
    assert stats["redis"]["hits"] == 1 and stats["disk"]["misses"] == 1
    assert stats["disk"]["size"] == 1  # promoted into L2 ...
    assert reader.count("gpt-4o", LONG).cached
    assert reader.cache.stats()["memory"]["hits"] == 1  # ... and L1
    batch = reader.count_batch("gpt-4", [LONG, LONG + "!"])
    assert [r.cached for r in batch] == [False, False]
    assert writer.count_batch("gpt-4", [LONG, LONG + "!"])[0].cached  # via Redis MGET
    assert redis.Redis.from_url(redis_server.url).dbsize() == 3
    reader.cache.clear()
    assert redis.Redis.from_url(redis_server.url).dbsize() == 0


def test_outage_mid_run_then_reconnect(redis_server, tmp_path, caplog) -> None:
    config = CacheConfig(
        redis_url=redis_server.url, disk_path=str(tmp_path / "l2.db"), redis_backoff_s=0.2
    )
    counter = TokenCounter(cache=config)
    tier = counter.cache.redis
    encoding = get_tokenizer("o200k_base").encoding
    texts = [f"{i}: {LONG}" for i in range(600)]
    expected = {t: len(encoding.encode_ordinary(t)) for t in texts}
    results: list[int] = []
    errors: list[BaseException] = []
    killed = threading.Event()

    def run() -> None:
        try:
            for i, text in enumerate(texts):
                results.append(counter.count("gpt-4o", text).count)
                if i == 100:
                    killed.wait(10)  # Redis dies while this thread is mid-run
        except BaseException as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    with caplog.at_level(logging.INFO, logger="polytok.count.cache_redis"):
        thread = threading.Thread(target=run)
        thread.start()
        while len(results) < 100:
            time.sleep(0.005)
        redis_server.kill()
        killed.set()
        start = time.monotonic()
        thread.join(60)
        outage_seconds = time.monotonic() - start
        assert not errors and results == [expected[t] for t in texts]  # counts kept coming
        assert outage_seconds < 10  # no long waits on a dead Redis
        stats = counter.cache.stats()["redis"]
        assert stats["errors"] >= 1 and tier.down
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()  # logged once
        assert counter.cache.stats()["disk"]["writes"] == len(texts)  # L2 kept everything

        redis_server.start()  # same port
        deadline = time.monotonic() + 15
        i = 0
        while tier.down and time.monotonic() < deadline:
            counter.count("gpt-4o", f"after restart {i} {LONG}")
            i += 1
            time.sleep(0.05)
        assert not tier.down and tier.reconnects == 1
        assert any("reconnected" in r.getMessage() for r in caplog.records)
    tier.flush()
    writes = tier.stats.writes
    counter.count("gpt-4o", "fresh after reconnect " + LONG)
    tier.flush()  # writes go behind (a background thread stores them within milliseconds)
    assert tier.stats.writes == writes + 1
    assert redis.Redis.from_url(redis_server.url).dbsize() >= 1


def test_unreachable_redis_from_the_start(unused_port: int) -> None:
    counter = TokenCounter(cache=CacheConfig(redis_url=f"redis://127.0.0.1:{unused_port}/0"))
    start = time.monotonic()
    counts = [counter.count("gpt-4o", f"{i} {LONG}").count for i in range(50)]
    assert len(counts) == 50 and time.monotonic() - start < 5
    stats = counter.cache.stats()["redis"]
    assert stats["errors"] == 1 and counter.cache.redis.skipped >= 50  # one try, then backoff


def test_only_long_texts_use_the_shared_tier(redis_server, tmp_path) -> None:
    """Below min_shared_chars a Redis round trip costs more than counting: L2 only."""
    from polytok.count.cache import DEFAULT_MIN_REMOTE_CHARS, DEFAULT_MIN_SHARED_CHARS

    assert DEFAULT_MIN_REMOTE_CHARS < DEFAULT_MIN_SHARED_CHARS
    config = CacheConfig(redis_url=redis_server.url, disk_path=str(tmp_path / "l2.db"))
    counter = TokenCounter(cache=config)
    medium = "m" * DEFAULT_MIN_REMOTE_CHARS  # L1 + L2
    long = "l" * DEFAULT_MIN_SHARED_CHARS  # every tier
    assert not counter.cache.uses_shared_tier(medium) and counter.cache.uses_shared_tier(long)
    counter.count("gpt-4o", medium)
    counter.count_batch("gpt-4o", [medium + "!", long])
    stats = counter.cache.stats()
    assert stats["disk"]["size"] == 3 and stats["redis"]["writes"] == 1
    assert stats["redis"]["misses"] == 1  # only the long text asked L3
    assert redis.Redis.from_url(redis_server.url).dbsize() == 1
    other = TokenCounter(cache=CacheConfig(redis_url=redis_server.url))
    assert other.count("gpt-4o", long).cached and not other.count("gpt-4o", medium).cached
    with pytest.raises(ValueError, match="min_shared_chars"):
        CacheConfig(min_shared_chars=-1)


def test_writes_go_behind_and_reach_other_processes(redis_server) -> None:
    """A put is visible to its own tier at once and stored by the writer thread shortly."""
    from polytok.count.cache_redis import RedisTier

    writer, reader = RedisTier(redis_server.url), RedisTier(redis_server.url)
    try:
        writer.put(b"k1", 7)
        assert writer.get(b"k1") == 7 and writer.get_many([b"k1", b"k2"]) == [7, None]
        deadline = time.monotonic() + 10
        while reader.get(b"k1") is None:  # stored by the background thread, no flush called
            assert time.monotonic() < deadline, "the write-behind thread never stored the count"
            time.sleep(0.01)
        writer.put(b"k2", 9)
        writer.close()  # stores what is still buffered
        assert reader.get(b"k2") == 9 and not writer._buffer._thread.is_alive()
        assert writer.stats.writes == 2
    finally:
        reader.close()


def test_acount_uses_the_loops_own_connections(redis_server) -> None:
    """``acount`` (the service's path) looks up and writes L3 on the event loop: a miss is
    stored by a task on the loop within ``flush_interval_s``, where other processes read it."""
    import asyncio

    from polytok.count.cache import digest_key
    from polytok.count.cache_redis import KEY_PREFIX

    client = redis.Redis.from_url(redis_server.url)
    counter = TokenCounter(cache=CacheConfig(redis_url=redis_server.url))
    namespace = counter._lookup("gpt-4o")[1].namespace
    expected = len(get_tokenizer("o200k_base").encoding.encode_ordinary(LONG))

    async def first_process() -> tuple:
        miss = await counter.acount("gpt-4o", LONG)
        buffered = client.get(KEY_PREFIX + digest_key(namespace, LONG))  # not stored yet
        await asyncio.sleep(0.3)
        stored = client.get(KEY_PREFIX + digest_key(namespace, LONG))
        hit = await counter.acount("gpt-4o", LONG)  # from L1
        await counter.aclose()
        return miss, buffered, stored, hit

    miss, buffered, stored, hit = asyncio.run(first_process())
    assert (miss.count, miss.cached, hit.cached) == (expected, False, True)
    assert buffered is None and int(stored) == expected
    assert counter.cache.stats()["redis"]["writes"] == 1

    async def second_process() -> tuple:
        other = TokenCounter(cache=CacheConfig(redis_url=redis_server.url))
        found = await other.acount("gpt-4o", LONG)
        stats = other.cache.stats()["redis"]
        await other.aclose()
        return found, stats

    found, stats = asyncio.run(second_process())  # a new event loop: new connections
    assert found.cached and found.count == expected and stats["hits"] == 1


def test_acount_through_an_outage_and_back(redis_server) -> None:
    """Redis dies under ``acount``: counts stay exact, the broken connection is dropped, and
    after the backoff a fresh connection reconnects and stores again."""
    import asyncio

    counter = TokenCounter(cache=CacheConfig(redis_url=redis_server.url, redis_backoff_s=0.1))
    tier = counter.cache.redis
    encoding = get_tokenizer("o200k_base").encoding
    texts = [f"{i} {LONG}" for i in range(3)]

    async def run() -> list[int]:
        counts = [(await counter.acount("gpt-4o", texts[0])).count]
        redis_server.kill()
        counts.append((await counter.acount("gpt-4o", texts[1])).count)
        assert tier.down and tier.stats.errors >= 1
        redis_server.start()
        await asyncio.sleep(0.3)  # past the backoff
        counts.append((await counter.acount("gpt-4o", texts[2])).count)
        await counter.aclose()  # stores what is buffered
        return counts

    assert asyncio.run(run()) == [len(encoding.encode_ordinary(t)) for t in texts]
    assert not tier.down and tier.reconnects == 1
    other = TokenCounter(cache=CacheConfig(redis_url=redis_server.url))
    assert other.count("gpt-4o", texts[2]).cached  # stored after the reconnect

"""Exact counts against known token ids, batch/messages/async variants."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from tokenizers import Tokenizer

from polytok.count import CacheConfig, TokenCounter
from polytok.tokenizers import get_tokenizer

HELLO = "Hello, world!"
KNOWN_IDS = {  # tiktoken's published ids for "Hello, world!"
    "gpt2": [15496, 11, 995, 0],
    "p50k_base": [15496, 11, 995, 0],
    "cl100k_base": [9906, 11, 1917, 0],
    "o200k_base": [13225, 11, 2375, 0],
}
MODEL_FOR = {
    "gpt2": "gpt2",
    "p50k_base": "text-davinci-003",
    "cl100k_base": "gpt-4",
    "o200k_base": "gpt-4o",
}


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter(cache=CacheConfig(min_cache_chars=0))


@pytest.mark.parametrize("encoding", sorted(KNOWN_IDS))
def test_known_ids_per_encoding(counter: TokenCounter, encoding: str) -> None:
    assert get_tokenizer(encoding).encode(HELLO) == KNOWN_IDS[encoding]
    result = counter.count(MODEL_FOR[encoding], HELLO)
    assert (result.count, result.encoding, result.exact, result.strategy) == (
        4,
        encoding,
        True,
        "tiktoken",
    )
    assert result.typical_error == 0.0


def test_p50k_space_runs_differ_from_r50k(counter: TokenCounter) -> None:
    code = "def f():\n        return 1\n"
    r50k = counter.count("davinci", code).count
    p50k = counter.count("text-davinci-003", code).count
    assert p50k < r50k  # p50k merges runs of spaces into single tokens
    assert p50k == len(get_tokenizer("p50k_base").encode(code))


def test_cjk_and_specials_exact(counter: TokenCounter) -> None:
    text = "你好，世界！こんにちは <|endoftext|>"
    enc = get_tokenizer("o200k_base").encoding
    assert counter.count("gpt-4o", text).count == len(enc.encode(text, disallowed_special=()))


def test_hf_directory_exact(llama_dir) -> None:
    counter = TokenCounter(hf_tokenizers={"meta-llama/Llama-2-7b-hf": str(llama_dir)})
    result = counter.count("meta-llama/Llama-2-7b-hf", HELLO)
    reference = Tokenizer.from_file(str(llama_dir / "tokenizer.json"))
    assert reference.encode(HELLO, add_special_tokens=False).ids == [15043, 29892, 3186, 29991]
    assert (result.count, result.strategy, result.exact) == (4, "hf", True)
    texts = ["你好世界", "Привет, мир", HELLO * 30]
    batch = counter.count_batch("meta-llama/Llama-2-7b-hf", texts)
    assert [r.count for r in batch] == [
        len(reference.encode(t, add_special_tokens=False).ids) for t in texts
    ]


def test_batch_equals_single_and_uses_cache(counter: TokenCounter) -> None:
    texts = [f"text number {i} " * (i + 1) for i in range(40)] + ["", "x"]
    batch = counter.count_batch("gpt-4o", texts)
    assert [r.count for r in batch] == [counter.count("gpt-4o", t).count for t in texts]
    again = counter.count_batch("gpt-4o", texts)
    assert all(r.cached for r in again)


def test_messages_follow_openai_cookbook(counter: TokenCounter) -> None:
    # Example from the OpenAI Cookbook "How to count tokens with tiktoken", whose API-verified
    # prompt token counts are 129 for gpt-4 and 124 for gpt-4o and gpt-4o-mini.
    messages = [
        {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
        {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
        {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
        {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
        {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
        {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."},
    ]  # fmt: skip
    for model, expected in (("gpt-4", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)):
        result = counter.count_messages(model, messages)
        assert result.count == expected and result.exact and result.strategy == "messages+tiktoken"
    parts = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " world"}],
        }
    ]
    assert counter.count_messages("gpt-4o", parts).count == 3 + 3 + 1 + 1 + 1
    approx = counter.count_messages("claude-sonnet-4-5", messages)
    assert not approx.exact and approx.count > 100
    with pytest.raises(ValueError, match="text content parts"):
        counter.count_messages("gpt-4o", [{"role": "user", "content": [{"type": "image_url"}]}])
    with pytest.raises(TypeError):
        counter.count("gpt-4o", b"bytes")  # type: ignore[arg-type]


def test_async_variants(counter: TokenCounter) -> None:
    async def run():
        return await asyncio.gather(
            counter.acount("gpt-4o", HELLO),
            counter.acount_batch("gpt-4", [HELLO, HELLO]),
            counter.acount_messages("gpt-4o", [{"role": "user", "content": "Hello"}]),
        )

    one, batch, messages = asyncio.run(run())
    assert one.count == 4 and [r.count for r in batch] == [4, 4] and messages.count == 8


def test_models_lists_families(counter: TokenCounter) -> None:
    rows = counter.models()
    families = {r["family"] for r in rows}
    assert {"openai", "anthropic", "gemini", "vllm", "unknown"} <= families
    assert any(r["model"] == "gpt-4o" and r["encoding"] == "o200k_base" for r in rows)
    assert all(r["exact"] or 0 < r["typical_error"] < 1 for r in rows)


def test_concurrent_first_requests_build_a_backend_once(monkeypatch) -> None:
    """A service's first burst used to build the backend once per request (each a vocabulary
    load of ~0.5 s CPU); now the others wait for one build."""
    import polytok.count.counter as counter_module

    builds: list[str] = []
    real = counter_module.build_backend

    def counted(info, num_threads=None):  # the real build, counted and slowed a little
        builds.append(info.encoding)
        time.sleep(0.2)
        return real(info, num_threads)

    monkeypatch.setattr(counter_module, "build_backend", counted)
    counter = TokenCounter()
    start = threading.Barrier(8)
    counts: list[int] = []

    def first_request() -> None:
        start.wait()
        counts.append(counter.count("gpt-4o", HELLO).count)

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert counts == [4] * 8 and builds == ["o200k_base"]
    counter.count("gpt-4", HELLO)  # another model still builds its own
    assert builds == ["o200k_base", "cl100k_base"]


def test_a_vocabulary_loads_once_under_concurrency(monkeypatch) -> None:
    from polytok.tokenizers import tiktoken_offline as offline

    monkeypatch.setattr(offline, "_encoding_cache", {})
    monkeypatch.setattr(offline, "_ranks_cache", {})
    parsed: list[int] = []
    real = offline.parse_tiktoken_ranks
    monkeypatch.setattr(offline, "parse_tiktoken_ranks", lambda b: parsed.append(1) or real(b))
    start = threading.Barrier(4)
    got: list[object] = []

    def load() -> None:
        start.wait()
        got.append(offline.load_encoding("cl100k_base"))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(got) == 4 and all(e is got[0] for e in got) and parsed == [1]


def test_acount_encodes_on_the_calling_thread(monkeypatch) -> None:
    """Encoding stays on the event loop's thread up to inline_max_chars (tiktoken keeps its
    regex caches per thread), and moves to a worker thread beyond."""
    counter = TokenCounter()
    backend = counter._lookup("gpt-4o")[1]
    threads: list[int] = []
    real = backend.count_one
    monkeypatch.setattr(
        backend, "count_one", lambda t: threads.append(threading.get_ident()) or real(t)
    )

    async def run() -> tuple[int, list]:
        loop_thread = threading.get_ident()
        short = await counter.acount("gpt-4o", HELLO + " short")
        long = await counter.acount("gpt-4o", HELLO * 10, inline_max_chars=50)
        return loop_thread, [short.count, long.count]

    loop_thread, counts = asyncio.run(run())
    encoding = get_tokenizer("o200k_base").encoding
    assert counts == [len(encoding.encode_ordinary(t)) for t in (HELLO + " short", HELLO * 10)]
    assert threads[0] == loop_thread and threads[1] != loop_thread
    with pytest.raises(TypeError, match="must be a str"):
        asyncio.run(counter.acount("gpt-4o", b"bytes"))  # type: ignore[arg-type]


def test_aprepare_builds_off_the_loop_and_encodes_first_on_it(monkeypatch) -> None:
    """The first build runs in a worker thread (the loop stays free for 0.5 s), the first
    encode on the loop's thread, which so owns tiktoken's fast regex cache."""
    import polytok.count.counter as counter_module

    calls: list[tuple[str, int]] = []
    real = counter_module.build_backend

    def recorded(info, num_threads=None):
        calls.append(("build", threading.get_ident()))
        backend = real(info, num_threads)
        encode = backend.count_one
        backend.count_one = lambda t: calls.append(("encode", threading.get_ident())) or encode(t)
        return backend

    monkeypatch.setattr(counter_module, "build_backend", recorded)
    counter = TokenCounter()

    async def run() -> tuple[int, int]:
        return threading.get_ident(), (await counter.acount("gpt-4o", HELLO)).count

    loop_thread, count = asyncio.run(run())
    assert count == 4 and calls[0][0] == "build" and calls[0][1] != loop_thread
    assert calls[1:] == [("encode", loop_thread)] * 2  # the warm-up, then the count

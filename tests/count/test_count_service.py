"""The REST service on a real uvicorn server, and online counting with fallback over real HTTP."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import APIRouter, Request

from polytok import service as service_module
from polytok.count import CacheConfig, OnlineConfig, TokenCounter
from polytok.service import ServiceSettings, ServiceStats, create_app


@pytest.fixture
def app():
    counter = TokenCounter(cache=CacheConfig(min_cache_chars=0))
    return create_app(counter, ServiceSettings(api_key=None, max_body_bytes=10_000))


def test_endpoints_on_real_uvicorn(serve, app) -> None:
    with serve(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        r = client.post("/count-tokens", json={"text": "Hello, world!", "model_id": "gpt-4o"})
        assert r.status_code == 200
        assert r.json() == {
            "count": 4, "model": "gpt-4o", "strategy": "tiktoken", "is_exact": True,
            "encoding": "o200k_base", "cached": False, "typical_error": 0.0,
        }  # fmt: skip
        assert client.post(
            "/count-tokens", json={"text": "Hello, world!", "model_id": "gpt-4o"}
        ).json()["cached"]
        approx = client.post(
            "/count-tokens", json={"text": "你好世界", "model_id": "claude-3-5-sonnet"}
        ).json()
        assert approx["is_exact"] is False and approx["strategy"] == "approx-script"
        batch = client.post(
            "/count-tokens/batch", json={"texts": ["Hello, world!", "a b"], "model_id": "gpt-4"}
        )
        assert batch.json()["counts"] == [4, 2] and batch.json()["total"] == 6
        missing = client.post("/count-tokens", json={"text": "x", "model_id": "no-such-model"})
        assert missing.status_code == 404
        assert "anthropic" in missing.json()["detail"]["families"]
        assert (
            client.post("/count-tokens", json={"text": 3, "model_id": "gpt-4o"}).status_code == 422
        )
        assert (
            client.post(
                "/count-tokens", json={"text": "x", "model_id": "gpt-4o", "extra": 1}
            ).status_code
            == 422
        )
        models = client.get("/models").json()
        assert "openai" in models["families"] and any(
            m["model"] == "gpt-4o" for m in models["models"]
        )
        cache = client.get("/cache/stats").json()
        assert cache["cache"]["memory"]["hits"] >= 1
        stats = client.get("/stats").json()
        assert (
            stats["sections"]["count"]["requests"] == 4 and stats["sections"]["count"]["texts"] == 5
        )
        assert client.get("/health").json()["status"] == "ok"


def test_body_limit_413_declared_and_streamed(serve, app) -> None:
    big = json.dumps({"text": "x" * 20_000, "model_id": "gpt-4o"}).encode()
    with serve(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        assert (
            client.post(
                "/count-tokens", content=big, headers={"Content-Type": "application/json"}
            ).status_code
            == 413
        )

        def chunks():  # no Content-Length: chunked transfer encoding
            for i in range(0, len(big), 1000):
                yield big[i : i + 1000]

        r = client.post(
            "/count-tokens", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 413 and "10000 bytes" in r.json()["detail"]
        assert (
            client.post("/health").status_code == 405
        )  # limit is on every route, others still work


def test_api_key(serve, monkeypatch) -> None:
    monkeypatch.setenv("POLYTOK_API_KEY", "s3cret")
    app = create_app(TokenCounter(), ServiceSettings())
    body = {"text": "hi", "model_id": "gpt-4o"}
    with serve(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.post("/count-tokens", json=body).status_code == 401
        assert (
            client.post("/count-tokens", json=body, headers={"X-API-Key": "wrong"}).status_code
            == 401
        )
        assert (
            client.post("/count-tokens", json=body, headers={"X-API-Key": "s3cret"}).status_code
            == 200
        )
        assert client.get("/stats").status_code == 401
        assert client.get("/health").status_code == 200


def test_mounted_routers_guarded_and_recorded(monkeypatch, serve) -> None:
    router = APIRouter()

    @router.post("/extra")
    async def extra(request: Request) -> dict:
        request.app.state.stats.record("extra", calls=1)
        return {"counter": type(request.app.state.counter).__name__}

    monkeypatch.setattr(service_module, "ROUTERS", [*service_module.ROUTERS, router])
    monkeypatch.setenv("POLYTOK_API_KEY", "k")
    app = create_app(TokenCounter(), ServiceSettings())
    with serve(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.post("/extra").status_code == 401  # the API key guards mounted routers too
        assert client.post("/extra", headers={"X-API-Key": "k"}).json() == {
            "counter": "TokenCounter"
        }
        assert client.get("/stats", headers={"X-API-Key": "k"}).json()["sections"]["extra"] == {
            "calls": 1
        }


def test_service_stats_thread_safe() -> None:
    import threading

    stats = ServiceStats()
    threads = [
        threading.Thread(target=lambda: [stats.record("s", n=1, t=2) for _ in range(1000)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stats.snapshot()["sections"]["s"] == {"n": 4000, "t": 8000}


def test_vllm_online_working_failing_and_unreachable(tokenize_server, unused_port) -> None:
    text = "Online counting through a vLLM-style endpoint. " * 3
    with tokenize_server(fail=False) as ok:
        counter = TokenCounter(online=OnlineConfig(vllm_url=ok.url, timeout_s=2))
        result = counter.count("vllm/meta-llama/Llama-3.1-8B", text)
        assert (result.strategy, result.exact) == ("online:vllm", True)
        assert result.count == TokenCounter().count("gpt-4", text).count  # the server counts cl100k
        assert ok.requests[0] == {
            "model": "meta-llama/Llama-3.1-8B",
            "prompt": text,
            "add_special_tokens": False,
        }
        assert counter.count("vllm/meta-llama/Llama-3.1-8B", text).cached
    with tokenize_server(fail=True) as bad:
        counter = TokenCounter(online=OnlineConfig(vllm_url=bad.url, timeout_s=2))
        result = counter.count("vllm/x", text)
        assert (result.strategy, result.exact) == ("approx-script", False)  # fell back
        assert counter.stats()["online"]["vllm"]["failures"] == 1
        counter.count("vllm/x", text + "!")
        assert len(bad.requests) == 1  # paused after the failure, no second request
    counter = TokenCounter(
        online=OnlineConfig(vllm_url=f"http://127.0.0.1:{unused_port}", timeout_s=0.5)
    )
    assert counter.count("vllm/x", text).strategy == "approx-script"
    assert counter.stats()["online"]["vllm"]["failures"] == 1


def test_online_needs_key_and_client() -> None:
    counter = TokenCounter(online=OnlineConfig(anthropic_api_key=None, gemini_api_key="k"))
    available = counter.stats()["online"]
    assert available["anthropic"]["available"] is False  # no key
    try:
        import google.genai  # noqa: F401
    except ImportError:
        assert available["gemini"]["available"] is False  # key but no client installed
    assert counter.count("claude-3-opus", "hello there").strategy == "approx-script"


def test_service_counts_online_off_the_event_loop(serve, tokenize_server) -> None:
    with tokenize_server(fail=False) as ok:
        counter = TokenCounter(online=OnlineConfig(vllm_url=ok.url, timeout_s=2))
        app = create_app(counter, ServiceSettings(api_key=None))
        with serve(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
            body = {"text": "Hello, world!", "model_id": "vllm/some-model"}
            r = client.post("/count-tokens", json=body).json()
            assert (r["count"], r["strategy"], r["is_exact"]) == (4, "online:vllm", True)
            assert client.get("/cache/stats").json()["online"]["vllm"]["calls"] == 1

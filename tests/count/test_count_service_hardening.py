"""Hostile input to the REST service: 422 not 500, docs behind the key, work limits on /compress,
one SIGTERM stops the server (reliability B1, W1.1-W1.5, W2.1-W2.3)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from polytok.cli import main
from polytok.count import CacheConfig, TokenCounter
from polytok.count.redis_server import free_port
from polytok.service import ServiceSettings, create_app

KEY = "k3y-for-tests"
H = {"X-API-Key": KEY, "Content-Type": "application/json"}
SENTENCES = "This is sentence number x. " * 600


@pytest.fixture(scope="module")
def server():
    """One service (count + compress) with the key set and small compress limits."""
    import uvicorn

    settings = ServiceSettings(api_key=KEY, compress_max_chunks=400, max_body_bytes=1 << 20)
    app = create_app(TokenCounter(cache=CacheConfig()), settings)
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield app, f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/count-tokens", b'{"text":"a","model_id":"gpt-4o\\ud800"}', "model_id"),
        ("/compress", b'{"context":"A b c. D e f.","target_ratio":NaN}', "target_ratio"),
        ("/compress", b'{"context":"A b c. D e f.","target_ratio":Infinity}', "target_ratio"),
        ("/compress", b'{"context":"A b c. D e f.","target_ratio":-Infinity}', "target_ratio"),
        ("/compress", b'{"context":"A b c. D e f.","target_tokens":NaN}', "target_tokens"),
        (
            "/compress",
            b'{"context":"Refunds \\ud800 now. Email us.","target_ratio":1.0}',
            "context",
        ),
        (
            "/compress",
            b'{"context":"Refunds now. Email.","query":"\\udfff","target_ratio":1}',
            "query",
        ),
        ("/validate", b'{"original":"Some text \\ud800.","compressed":"x"}', "original"),
    ],
)
def test_unrepresentable_input_is_422_not_500(server, path, body, field) -> None:
    _, url = server
    with httpx.Client(base_url=url, headers=H, timeout=60) as client:
        r = client.post(path, content=body)
        assert r.status_code == 422, r.text
        assert any(field in map(str, e["loc"]) for e in r.json()["detail"])
        if field in ("context", "query", "original"):
            assert "lone surrogate" in r.text
        ok = client.post("/count-tokens", json={"text": "Hello", "model_id": "gpt-4o"})
        assert ok.status_code == 200  # the same keep-alive connection still works


def test_api_description_is_behind_the_key(server) -> None:
    _, url = server
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert httpx.get(url + path).status_code == 401, path
        assert httpx.get(url + path, headers={"X-API-Key": "wrong"}).status_code == 401
        assert httpx.get(url + path, headers=H).status_code == 200, path
    schema = httpx.get(url + "/openapi.json", headers=H).json()
    assert "/count-tokens" in schema["paths"] and "/compress" in schema["paths"]
    assert httpx.get(url + "/docs/oauth2-redirect").status_code in (401, 404)
    assert httpx.get(url + "/health").status_code == 200  # by design


@pytest.mark.parametrize("key", ["clé-secrète", "   ", "tab\there"])
def test_unusable_api_key_refused_at_start(key, monkeypatch, capsys) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        ServiceSettings(api_key=key)
    monkeypatch.setenv("POLYTOK_API_KEY", key)
    assert main(["serve", "--port", str(free_port())]) == 2  # refused before binding
    assert "printable ASCII" in capsys.readouterr().err


def test_compress_work_limits(server) -> None:
    app, url = server
    with httpx.Client(base_url=url, headers=H, timeout=120) as client:
        too_many = "This is sentence number x. " * 401
        r = client.post("/compress", json={"context": too_many, "target_ratio": 0.3})
        assert r.status_code == 413 and "401 chunks" in r.text and "at most 400" in r.text
        app.state.settings.compress_deadline_s = 1e-4
        r = client.post("/compress", json={"context": SENTENCES[:8000], "target_ratio": 0.3})
        assert r.status_code == 422 and "did not finish within" in r.text
        app.state.settings.compress_deadline_s = 30.0
        slots = app.state.compress_slots
        held = [slots.acquire(blocking=False) for _ in range(4)]
        assert all(held)
        r = client.post("/compress", json={"context": SENTENCES[:800], "target_ratio": 0.5})
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        for _ in held:
            slots.release()
        app.state.shutdown.set()  # what the first SIGTERM does
        try:
            r = client.post("/compress", json={"context": SENTENCES[:8000], "target_ratio": 0.3})
            assert r.status_code == 503 and "shutting down" in r.text
        finally:
            app.state.shutdown.clear()
        r = client.post("/compress", json={"context": SENTENCES[:800], "target_ratio": 0.5})
        assert r.status_code == 200


@pytest.mark.parametrize("kind", ["garbage", "truncated", "directory"])
def test_unusable_cache_database(tmp_path, kind, capsys) -> None:
    db = tmp_path / "counts.db"
    if kind == "garbage":
        db.write_bytes(os.urandom(100_000))
    elif kind == "truncated":
        good = TokenCounter(cache=CacheConfig(disk_path=str(db), min_cache_chars=0))
        good.count_batch("gpt-4o", [f"text number {i} " * 50 for i in range(300)])
        good.close()
        with open(db, "r+b") as f:
            f.truncate(4096 + 100)
    else:
        db.mkdir()
    before = db.read_bytes() if db.is_file() else None
    with pytest.raises(ValueError, match="cache database"):
        TokenCounter(cache=CacheConfig(disk_path=str(db)))
    (tmp_path / "in.txt").write_text("hi")
    assert main(["count", "-m", "gpt-4o", "--cache-db", str(db), str(tmp_path / "in.txt")]) == 2
    err = capsys.readouterr().err
    assert str(db) in err and "Traceback" not in err
    if before is not None:
        assert db.read_bytes() == before  # left untouched


@pytest.mark.slow
def test_one_sigterm_stops_a_busy_server(tmp_path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "POLYTOK_API_KEY": "",
        "POLYTOK_COMPRESS_DEADLINE_S": "600",
        # work that lasts well past the signal even on a quiet, fast machine (19,000 sentences
        # took 2.4-3.4 s there, so a signal at 3 s raced the answer)
        "POLYTOK_COMPRESS_MAX_CHUNKS": "120000",
        "POLYTOK_MAX_BODY_BYTES": str(8 << 20),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "polytok.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    answers: list[httpx.Response] = []
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(url + "/health")
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        big = {
            "context": " ".join(f"This is sentence number {i}." for i in range(100_000)),
            "target_ratio": 0.3,
        }
        worker = threading.Thread(
            target=lambda: answers.append(httpx.post(url + "/compress", json=big, timeout=600))
        )
        worker.start()
        time.sleep(3)  # seconds of work (more under load) are running in a worker thread
        assert not answers, "the compression finished too early to test shutdown"
        proc.send_signal(signal.SIGTERM)
        start = time.monotonic()
        proc.wait(timeout=60)  # ONE signal is enough
        assert time.monotonic() - start < 60
        worker.join(timeout=30)
        assert answers and answers[0].status_code == 503 and "shutting down" in answers[0].text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_two_workers_share_the_l3_cache(tmp_path) -> None:
    """``serve --workers 2``: a count cached by one worker is a cache hit in the other."""
    port = free_port()
    env = {**os.environ, "POLYTOK_API_KEY": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "polytok.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    text = "A text long enough for the shared tier, counted once. " * 160  # >= 8192 chars
    body = {"text": text, "model_id": "gpt-4o"}
    try:
        deadline = time.monotonic() + 180
        pids: set[int] = set()
        while len(pids) < 2:  # both workers up (each connection lands on either)
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            try:
                with httpx.Client(base_url=url, timeout=30) as c:
                    pids.add(c.get("/cache/stats").json()["worker"])
            except httpx.TransportError:
                time.sleep(0.3)
        with httpx.Client(base_url=url, timeout=30) as c:
            first = c.post("/count-tokens", json=body).json()
            writer = c.get("/cache/stats").json()["worker"]
        assert first["cached"] is False
        time.sleep(0.2)  # the write reaches L3 within flush_interval_s (10 ms)
        for _ in range(200):  # new connections until the other worker answers
            with httpx.Client(base_url=url, timeout=30) as c:
                r = c.post("/count-tokens", json=body).json()
                stats = c.get("/cache/stats").json()
            assert r["cached"] is True and r["count"] == first["count"]
            if stats["worker"] != writer:
                assert stats["cache"]["redis"]["hits"] >= 1  # served from the shared L3
                break
        else:
            pytest.fail("the second worker never answered")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()


def test_worker_socket_switches_nagle_off() -> None:
    """``serve --workers N`` listens on a socket whose connections have TCP_NODELAY (uvicorn's
    own leaves Nagle's algorithm on: ~40 ms per keep-alive request); a taken port is named."""
    import socket

    from polytok.service import listening_socket

    sock = listening_socket("127.0.0.1", 0)
    try:
        sock.listen()
        client = socket.create_connection(sock.getsockname())
        accepted, _ = sock.accept()
        with client, accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        with pytest.raises(OSError, match="pick another --port"):
            listening_socket("127.0.0.1", sock.getsockname()[1])
    finally:
        sock.close()

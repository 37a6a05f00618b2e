"""Real servers for the count tests: redis-server, uvicorn, and a vLLM-style /tokenize endpoint.

Outside CI the Redis tests skip with a visible reason when no ``redis-server`` binary exists; with
the ``CI`` environment variable set they fail instead (CI must run them).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class RedisProcess:
    """A redis-server on 127.0.0.1:<port> without persistence, restartable on the same port."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(self.directory)]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


def _redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server not installed (apt-get install redis-server); Redis tier untested"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}, but CI must run the Redis tests")
        pytest.skip(reason)
    return binary


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    """A running redis-server (killed at teardown)."""
    server = RedisProcess(_redis_binary(), tmp_path)
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

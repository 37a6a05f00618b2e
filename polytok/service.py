"""The polytok REST service (FastAPI, served by uvicorn: ``polytok serve``).

The one service module (faces layer): it mounts the counting routes (`polytok.count.routes`) and
the compression routes (`polytok.compress.routes`); neither subsystem knows the other's routes.

* ``create_app(counter: TokenCounter | None = None, settings: ServiceSettings | None = None)
  -> FastAPI``. ``app.state.counter`` is the `TokenCounter`, ``app.state.settings`` the
  `ServiceSettings`, ``app.state.stats`` a `ServiceStats`.
* A body-size limit applies to every route: a request body larger than
  ``settings.max_body_bytes`` gets 413, whether announced by Content-Length or streamed.
* `ApiKeyMiddleware`: when ``settings.api_key`` is set (default: the ``POLYTOK_API_KEY``
  environment variable; printable ASCII, or the settings refuse it) a request without the
  matching ``X-API-Key`` header gets 401. Every path but ``GET /health`` is guarded, mounted
  routers and the API description (``/openapi.json``, ``/docs``, ``/redoc``) included.
* A request that fails validation gets 422 with the errors; inputs that JSON cannot carry (lone
  surrogates, NaN, Infinity) are shown escaped, never a 500.
* ``app.state.shutdown`` is a `threading.Event` set when the server starts shutting down (the
  first SIGTERM or SIGINT): long work in worker threads checks it and stops.
* ``ServiceStats.record(section, **values)`` adds numeric values to running totals of a section
  (thread-safe); ``snapshot()`` returns ``{"uptime_s": ..., "sections": {section: {key: total}}}``,
  which ``GET /stats`` returns. The count routes record into section ``"count"``.
* `ROUTERS` lists the mounted routers (all behind the API key).

Routes: ``POST /count-tokens``, ``POST /count-tokens/batch``, ``GET /models``,
``GET /cache/stats`` (count); ``POST /compress``, ``POST /validate`` (compress); ``GET /stats``,
``GET /health``.
"""

from __future__ import annotations

import argparse
import gc
import hmac
import json
import os
import signal
import socket
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from polytok import __version__
from polytok.compress.routes import router as compress_router
from polytok.count.cache import SERVICE_DIGEST_CHARS, CacheConfig
from polytok.count.counter import TokenCounter
from polytok.count.online import OnlineConfig
from polytok.count.routes import router as count_router

service_router = APIRouter(tags=["service"])  # GET /stats (defined below)


@dataclass
class ServiceSettings:
    """Service options (``from_env`` reads them from ``POLYTOK_*`` variables).

    Attributes:
        api_key: required ``X-API-Key`` value (``None``: no authentication).
        max_body_bytes: larger request bodies get 413.
        allow_unknown_models: approximate unknown model ids instead of answering 404.
        cache_db: SQLite file for the L2 cache (``None``: no L2).
        redis_url: Redis URL for the L3 cache (``None``: no L3).
        online: use online counters configured in the environment (`OnlineConfig.from_env`).
        compress_max_chunks: ``/compress`` answers 413 to contexts of more chunks (sentences).
        compress_deadline_s: a compression still running after this many seconds stops (422).
        compress_max_concurrent: compressions running at once; more get 503 (retry).

    Raises:
        ValueError: a limit below 1, or an API key that is not printable ASCII (HTTP headers
            carry latin-1 bytes, so no client could ever send a non-ASCII key that matches).
    """

    api_key: str | None = field(default_factory=lambda: os.environ.get("POLYTOK_API_KEY") or None)
    max_body_bytes: int = 1 << 20
    allow_unknown_models: bool = False
    cache_db: str | None = None
    redis_url: str | None = None
    online: bool = False
    compress_max_chunks: int = 20_000
    compress_deadline_s: float = 30.0
    compress_max_concurrent: int = 4

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be >= 1, got {self.max_body_bytes}")
        for name in ("compress_max_chunks", "compress_max_concurrent"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.compress_deadline_s > 0 or self.compress_deadline_s == float("inf"):
            raise ValueError(
                f"compress_deadline_s must be a finite number > 0, got {self.compress_deadline_s}"
            )
        if self.api_key is not None and not (
            self.api_key.isascii() and self.api_key.isprintable() and self.api_key.strip()
        ):
            raise ValueError(
                "the API key (POLYTOK_API_KEY) must be printable ASCII without only spaces: HTTP "
                "headers carry latin-1 bytes, so clients could never send a non-ASCII key; "
                "choose e.g. a random hex string (python -c 'import secrets; "
                "print(secrets.token_hex(16))')"
            )

    @classmethod
    def from_env(cls) -> ServiceSettings:
        """``POLYTOK_API_KEY``, ``POLYTOK_MAX_BODY_BYTES``, ``POLYTOK_CACHE_DB``,
        ``POLYTOK_REDIS_URL``, ``POLYTOK_ONLINE=1``, ``POLYTOK_ALLOW_UNKNOWN=1``,
        ``POLYTOK_COMPRESS_MAX_CHUNKS``,
        ``POLYTOK_COMPRESS_DEADLINE_S``, ``POLYTOK_COMPRESS_MAX_CONCURRENT``."""
        env = os.environ.get
        return cls(
            max_body_bytes=int(env("POLYTOK_MAX_BODY_BYTES", 1 << 20)),
            cache_db=env("POLYTOK_CACHE_DB") or None,
            redis_url=env("POLYTOK_REDIS_URL") or None,
            online=env("POLYTOK_ONLINE", "") == "1",
            allow_unknown_models=env("POLYTOK_ALLOW_UNKNOWN", "") == "1",
            compress_max_chunks=int(env("POLYTOK_COMPRESS_MAX_CHUNKS", 20_000)),
            compress_deadline_s=float(env("POLYTOK_COMPRESS_DEADLINE_S", 30.0)),
            compress_max_concurrent=int(env("POLYTOK_COMPRESS_MAX_CONCURRENT", 4)),
        )

    def build_counter(self) -> TokenCounter:
        """A `TokenCounter` with these cache and online settings."""
        cache = CacheConfig(
            disk_path=self.cache_db,
            redis_url=self.redis_url,
            memory_digest_chars=SERVICE_DIGEST_CHARS,  # requests bring new strings: see there
        )
        return TokenCounter(cache=cache, online=OnlineConfig.from_env() if self.online else None)


class ServiceStats:
    """Running totals per section, safe to update from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sections: dict[str, dict[str, float]] = {}
        self._started = time.monotonic()

    def record(self, section: str, **values: float) -> None:
        """Add each value to the section's total of that name."""
        with self._lock:
            totals = self._sections.setdefault(section, {})
            for key, value in values.items():
                totals[key] = totals.get(key, 0) + value

    def snapshot(self) -> dict[str, Any]:
        """``{"uptime_s": float, "sections": {section: {key: total}}}`` (a copy)."""
        with self._lock:
            sections = {name: dict(totals) for name, totals in self._sections.items()}
        return {"uptime_s": time.monotonic() - self._started, "sections": sections}


class BodySizeLimitMiddleware:
    """ASGI middleware answering 413 to bodies above ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(scope, receive, send)
                return
        seen = 0

        async def limited_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited_receive, send)

    def _detail(self) -> str:
        return f"request body larger than {self.max_bytes} bytes; send less per request"

    async def _reject(self, scope: dict, receive: Any, send: Any) -> None:
        await JSONResponse({"detail": self._detail()}, status_code=413)(scope, receive, send)


OPEN_PATHS = frozenset({"/health"})  # answered without the API key


class ApiKeyMiddleware:
    """ASGI middleware answering 401 unless ``X-API-Key`` equals ``api_key`` (every path but
    `OPEN_PATHS`).

    It reads the raw headers before routing: the FastAPI dependency it replaces cost about
    170 us a request (a second dependency solve), more than counting a 1 KB text.
    """

    def __init__(self, app: Any, api_key: str) -> None:
        self.app = app
        self.key = api_key.encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = next((v for name, v in scope.get("headers", ()) if name == b"x-api-key"), b"")
        if given and hmac.compare_digest(given, self.key):
            await self.app(scope, receive, send)
            return
        reject = JSONResponse(
            {"detail": "missing or wrong X-API-Key header"},
            status_code=401,
            headers={"WWW-Authenticate": "ApiKey"},
        )
        await reject(scope, receive, send)


@service_router.get("/stats")
async def stats(request: Request) -> dict[str, Any]:
    """Service totals per section (``count``, ``compress``, ``validate``)."""
    return request.app.state.stats.snapshot()


def _json_safe(value: Any) -> Any:
    """``value`` if strict JSON (UTF-8, no NaN/Infinity) can carry it, else its escaped repr."""
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
        return value
    except (TypeError, ValueError):
        return ascii(value)[:200]


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with pydantic's errors, every echoed input made JSON-safe (never a 500)."""
    errors = [
        {k: _json_safe(v) for k, v in error.items() if k in ("type", "loc", "msg", "input")}
        for error in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


def _add_api_docs(app: FastAPI) -> None:
    """``/openapi.json``, ``/docs`` and ``/redoc``, behind the API key like every route."""
    docs = APIRouter(include_in_schema=False)

    @docs.get("/openapi.json")
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @docs.get("/docs")
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="polytok API")

    @docs.get("/redoc")
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title="polytok API")

    app.include_router(docs)


def _chain_shutdown_signals(event: threading.Event) -> dict[int, Any]:
    """Set ``event`` on SIGTERM/SIGINT, then run the handler already installed (uvicorn's).

    Only possible in the main thread (a server run by ``polytok serve``); returns the handlers
    to restore.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous: dict[int, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        handler = signal.getsignal(sig)
        previous[sig] = handler

        def chained(number: int, frame: Any, handler: Any = handler) -> None:
            event.set()
            if callable(handler):
                handler(number, frame)
            else:  # default or ignored: restore it and deliver the signal again
                signal.signal(number, handler if handler is not None else signal.SIG_DFL)
                signal.raise_signal(number)

        signal.signal(sig, chained)
    return previous


def _freeze_startup_objects() -> None:
    """Move every object alive at start-up to the collector's permanent generation.

    The service imports torch and its tokenizers: about 220k objects, which every full
    collection walked (about 120 ms, a stall of the event loop, against 25 ms for a bare FastAPI
    app). Cached counts grow the old generation under load, so full collections recur; frozen,
    the start-up objects are no longer walked (``gc.freeze``, Python 3.7+).
    """
    gc.collect()
    gc.freeze()


def app_from_env() -> FastAPI:
    """The app for ``uvicorn --factory`` (``polytok serve --workers N``): settings from env."""
    return create_app(settings=ServiceSettings.from_env())


def create_app(
    counter: TokenCounter | None = None, settings: ServiceSettings | None = None
) -> FastAPI:
    """Build the service (see the module docstring for the contract).

    Args:
        counter: the counter to serve (default: one built from ``settings``; closed on shutdown).
        settings: service options (default: `ServiceSettings.from_env`).
    """
    settings = settings or ServiceSettings.from_env()
    owned = counter is None
    counter = counter or settings.build_counter()

    shutdown = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202 (FastAPI's lifespan protocol)
        previous = _chain_shutdown_signals(shutdown)
        _freeze_startup_objects()
        try:
            yield
        finally:
            shutdown.set()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if owned:
                await counter.aclose()

    app = FastAPI(
        title="polytok",
        version=__version__,
        lifespan=lifespan,
        openapi_url=None,  # served by _add_api_docs, behind the API key
        docs_url=None,
        redoc_url=None,
    )
    app.state.counter = counter
    app.state.settings = settings
    app.state.stats = ServiceStats()
    app.state.shutdown = shutdown
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.api_key:  # added last: runs first, before the body is read
        app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key)
    app.add_exception_handler(RequestValidationError, _validation_error)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    for router in ROUTERS:
        app.include_router(router)
    _add_api_docs(app)
    return app


# Every route but GET /health and the API docs, each mounted with the API-key dependency.
ROUTERS: list[APIRouter] = [count_router, compress_router, service_router]


def _serve(args: argparse.Namespace) -> int:
    """Run the service; with ``--workers N`` every worker process shares one L3 (Redis)."""
    import logging
    import os
    import tempfile

    import uvicorn

    from polytok.count.redis_server import LocalRedisServer

    flags = {
        "POLYTOK_CACHE_DB": args.cache_db,
        "POLYTOK_REDIS_URL": args.redis_url,
        "POLYTOK_ALLOW_UNKNOWN": "1" if args.allow_unknown else None,
        "POLYTOK_COMPRESS_MAX_CHUNKS": args.compress_max_chunks,
        "POLYTOK_COMPRESS_DEADLINE_S": args.compress_deadline,
    }
    for name, value in flags.items():  # workers read their settings from the environment
        if value is not None:
            os.environ[name] = str(value)
    settings = ServiceSettings.from_env()  # refuses bad settings before anything starts
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    options = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "timeout_graceful_shutdown": 30,  # backstop; running compressions stop at once
    }
    if args.workers == 1:
        uvicorn.run(create_app(settings=settings), **options)
        return 0
    local = None
    if not settings.redis_url:  # the workers' shared L3
        local = LocalRedisServer(tempfile.mkdtemp(prefix="polytok-l3-")).start()
        os.environ["POLYTOK_REDIS_URL"] = local.url
        logging.getLogger(__name__).warning(
            "started %s at %s as the L3 cache shared by %d workers; pass --redis-url to use "
            "your own server",
            os.path.basename(local.binary),
            local.url,
            args.workers,
        )
    sock = listening_socket(args.host, args.port)
    options = {k: v for k, v in options.items() if k not in ("host", "port")}
    try:
        uvicorn.run(
            "polytok.service:app_from_env",
            factory=True,
            workers=args.workers,
            fd=sock.fileno(),
            **options,
        )
    finally:
        sock.close()
        if local is not None:
            local.kill()
    return 0


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket with ``TCP_NODELAY``, for the worker processes to share.

    uvicorn's own socket for ``workers > 1`` is created with protocol 0, so asyncio does not
    switch Nagle's algorithm off on its connections: a response written in two parts (head,
    body) then waits for the client's delayed ACK, about 40 ms per request. Accepted
    connections inherit ``TCP_NODELAY`` from the listening socket.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {err}; pick another --port") from err
    sock.set_inheritable(True)
    return sock


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``serve`` to the ``polytok`` command."""
    p = subparsers.add_parser("serve", help="run the token-counting REST service (uvicorn)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8001, help="port (default 8001)")
    p.add_argument("--cache-db", default=None, help="SQLite file for the L2 cache")
    p.add_argument("--redis-url", default=None, help="redis://host:port/db for the L3 cache")
    p.add_argument("--allow-unknown", action="store_true", help="approximate unknown model ids")
    p.add_argument("--log-level", default="warning", help="uvicorn log level")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1); they share one Redis-compatible L3: --redis-url, "
        "or a local valkey-server/redis-server started for them",
    )
    p.add_argument(
        "--compress-max-chunks",
        type=int,
        default=None,
        help="/compress answers 413 to contexts of more chunks (default 20000)",
    )
    p.add_argument(
        "--compress-deadline",
        type=float,
        default=None,
        help="seconds a compression may run before it stops with 422 (default 30)",
    )
    p.set_defaults(func=_serve)

"""The polytok REST service (FastAPI, served by uvicorn: ``polytok serve``).

Contract shared with other subsystems (``polytok.compress`` mounts its router here):

* ``create_app(counter: TokenCounter | None = None, settings: ServiceSettings | None = None)
  -> FastAPI``. ``app.state.counter`` is the `TokenCounter`, ``app.state.settings`` the
  `ServiceSettings`, ``app.state.stats`` a `ServiceStats`.
* A body-size limit applies to every route: a request body larger than
  ``settings.max_body_bytes`` gets 413, whether announced by Content-Length or streamed.
* ``require_api_key`` is a FastAPI dependency: when ``settings.api_key`` is set (default: the
  ``POLYTOK_API_KEY`` environment variable; printable ASCII, or the settings refuse it) a request
  without the matching ``X-API-Key`` header gets 401. Every route but ``GET /health`` depends on
  it, mounted routers and the API description (``/openapi.json``, ``/docs``, ``/redoc``) included.
* A request that fails validation gets 422 with the errors; inputs that JSON cannot carry (lone
  surrogates, NaN, Infinity) are shown escaped, never a 500.
* ``app.state.shutdown`` is a `threading.Event` set when the server starts shutting down (the
  first SIGTERM or SIGINT): long work in worker threads checks it and stops.
* ``ServiceStats.record(section, **values)`` adds numeric values to running totals of a section
  (thread-safe); ``snapshot()`` returns ``{"uptime_s": ..., "sections": {section: {key: total}}}``,
  which ``GET /stats`` returns. The count routes record into section ``"count"``.
* Routers named in `EXTRA_ROUTERS` (``"module:attribute"``) are mounted when their module exists;
  a missing module is skipped, any other import error is raised.

Routes: ``POST /count-tokens``, ``POST /count-tokens/batch``, ``GET /models``,
``GET /cache/stats``, ``GET /stats``, ``GET /health``.
"""

from __future__ import annotations

import hmac
import importlib
import json
import logging
import os
import signal
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from polytok import __version__
from polytok.count.cache import CacheConfig
from polytok.count.counter import CountResult, TokenCounter
from polytok.count.online import OnlineConfig
from polytok.count.registry import FAMILIES, ModelInfo, UnknownModelError

logger = logging.getLogger(__name__)

EXTRA_ROUTERS = ["polytok.compress.service:router"]
MAX_BATCH = 4096
INLINE_MAX_CHARS = 16_384  # longer single texts are counted in the thread pool (~1 ms and up)


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
        cache = CacheConfig(disk_path=self.cache_db, redis_url=self.redis_url)
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


def require_api_key(request: Request, x_api_key: str | None = Header(default=None)) -> None:
    """401 unless ``X-API-Key`` equals the configured key (no key configured: allow)."""
    expected = request.app.state.settings.api_key
    if expected and not (x_api_key and hmac.compare_digest(x_api_key.encode(), expected.encode())):
        raise HTTPException(
            401, "missing or wrong X-API-Key header", {"WWW-Authenticate": "ApiKey"}
        )


class CountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    model_id: str = Field(min_length=1, max_length=256)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[str] = Field(max_length=MAX_BATCH)
    model_id: str = Field(min_length=1, max_length=256)


def _result_json(r: CountResult) -> dict[str, Any]:
    return {
        "count": r.count,
        "model": r.model,
        "strategy": r.strategy,
        "is_exact": r.exact,
        "encoding": r.encoding,
        "cached": r.cached,
        "typical_error": r.typical_error,
    }


def _check_model(request: Request, model: str) -> ModelInfo:
    counter: TokenCounter = request.app.state.counter
    try:
        return counter.registry.resolve(
            model, allow_unknown=request.app.state.settings.allow_unknown_models
        )
    except UnknownModelError as err:
        raise HTTPException(404, {"error": str(err), "families": list(FAMILIES[:-1])}) from err


def _may_block(counter: TokenCounter, info: ModelInfo, text: str) -> bool:
    """Whether counting may wait on the network (online counter, Redis) or run long: such calls
    go to the thread pool, the rest (microseconds) run on the event loop."""
    online = counter.online is not None and counter.online.usable(info.online)
    redis = counter.cache is not None and counter.cache.redis is not None
    return online or redis or len(text) > INLINE_MAX_CHARS


def _count_errors(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except FileNotFoundError as err:  # an HF model mapped to a missing directory
        raise HTTPException(503, str(err)) from err


router = APIRouter(dependencies=[Depends(require_api_key)])


@router.post("/count-tokens", response_model=None)
async def count_tokens(body: CountRequest, request: Request) -> JSONResponse:
    """Count one text."""
    info = _check_model(request, body.model_id)
    counter: TokenCounter = request.app.state.counter
    if _may_block(counter, info, body.text):
        result = await run_in_threadpool(_count_errors, counter.count, body.model_id, body.text)
    else:
        result = _count_errors(counter.count, body.model_id, body.text)
    request.app.state.stats.record(
        "count", requests=1, texts=1, tokens=result.count, cached=int(result.cached)
    )
    return JSONResponse(_result_json(result))  # already JSON-safe: skip response validation


@router.post("/count-tokens/batch")
async def count_tokens_batch(body: BatchRequest, request: Request) -> dict[str, Any]:
    """Count many texts for one model (encoded in parallel, off the event loop)."""
    _check_model(request, body.model_id)
    counter: TokenCounter = request.app.state.counter
    results = await run_in_threadpool(_count_errors, counter.count_batch, body.model_id, body.texts)
    total = sum(r.count for r in results)
    request.app.state.stats.record(
        "count", requests=1, texts=len(results), tokens=total, cached=sum(r.cached for r in results)
    )
    info = counter.resolve(body.model_id)
    first = results[0] if results else None
    return {
        "model": body.model_id,
        "strategy": first.strategy if first else info.strategy,
        "is_exact": first.exact if first else info.exact,
        "encoding": first.encoding if first else info.encoding,
        "counts": [r.count for r in results],
        "cached": [r.cached for r in results],
        "total": total,
    }


@router.get("/models")
async def models(request: Request) -> dict[str, Any]:
    """Known models and families with their strategies and measured errors."""
    return {"families": list(FAMILIES), "models": request.app.state.counter.models()}


@router.get("/cache/stats")
async def cache_stats(request: Request) -> dict[str, Any]:
    """Per-tier cache statistics and online counter calls of this worker process (``worker``:
    its pid; with ``polytok serve --workers N`` each worker has its own L1 and shares L3)."""
    out = await run_in_threadpool(request.app.state.counter.stats)
    return {**out, "worker": os.getpid()}


@router.get("/stats")
async def stats(request: Request) -> dict[str, Any]:
    """Service totals per section (``count``, and those of mounted routers)."""
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
    docs = APIRouter(dependencies=[Depends(require_api_key)], include_in_schema=False)

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


def _mount_extra_routers(app: FastAPI) -> None:
    for target in EXTRA_ROUTERS:
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            missing = err.name or ""
            if module_name == missing or module_name.startswith(missing + "."):
                logger.info("optional router %s not installed; skipped", target)
                continue
            raise
        app.include_router(getattr(module, attribute), dependencies=[Depends(require_api_key)])


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
        try:
            yield
        finally:
            shutdown.set()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if owned:
                counter.close()

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
    app.add_exception_handler(RequestValidationError, _validation_error)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(router)
    _mount_extra_routers(app)
    _add_api_docs(app)
    return app

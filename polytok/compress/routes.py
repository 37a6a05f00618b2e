"""``POST /compress`` and ``POST /validate``, mounted on the service with the counting routes.

`polytok.service.create_app` mounts `router` with its API-key dependency and body-size
limit, and exposes ``app.state.counter`` (the `TokenCounter` that also counts budgets here),
``app.state.settings`` and ``app.state.stats``. Section ``"compress"`` of ``GET /stats`` holds
``compressions``, ``original_tokens``, ``compressed_tokens``, ``tokens_saved``, ``mean_ratio`` and
``mean_quality`` (quality = embedding cosine of compressed vs original); section ``"validate"``
holds ``validations``, ``passed``, ``failed`` and ``mean_quality``. Means are kept exact by
recording the change of the running mean (the stats store only adds).

Work limits (`ServiceSettings`): a context split into more than ``compress_max_chunks`` chunks
gets 413 before any selection work; a compression still running after ``compress_deadline_s``
stops and gets 422; at most ``compress_max_concurrent`` compressions run at once (more get 503
with ``Retry-After``); when the server shuts down, running compressions stop at once (503), so
one SIGTERM ends the process. Texts with lone surrogates (invalid Unicode) get 422.

Optional environment: ``POLYTOK_BERTSCORE_MODEL_DIR`` (local model directory enabling the
``bertscore`` metric), ``POLYTOK_GLYPH_TAPE`` (glyph tape enabling the lossless glyph option).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, field_validator

from polytok.compress.chunking import split_chunks
from polytok.compress.compressor import CompressorConfig, ContextCompressor
from polytok.compress.limits import WorkLimitExceeded, work_limits
from polytok.compress.validator import CompressionValidator, ValidatorConfig
from polytok.count import FAMILIES, UnknownModelError

router = APIRouter(tags=["compress"])
_lock = threading.Lock()


def valid_unicode(value: str | None) -> str | None:
    """Refuse lone surrogates (``"\\ud800"`` in JSON): they are not text and break tokenizers."""
    if value is None:
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(
            f"contains a lone surrogate (U+{ord(value[err.start]):04X}) at character "
            f"{err.start}, which is not valid Unicode; send UTF-8 text"
        ) from None
    return value


class CompressRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    context: str
    query: str | None = None
    model_id: str = Field(default="gpt-4o", min_length=1, max_length=256)
    target_tokens: int | None = Field(default=None, ge=1)
    target_ratio: float | None = Field(default=None, gt=0.0, le=1.0, allow_inf_nan=False)
    strategy: Literal["mmr", "lead", "random"] = "mmr"

    check_unicode = field_validator("context", "query")(valid_unicode)


class ValidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    original: str
    compressed: str
    metrics: list[str] | None = Field(default=None, max_length=8)
    query: str | None = None
    thresholds: dict[str, float] | None = None

    check_unicode = field_validator("original", "compressed", "query")(valid_unicode)


class _Engines:
    """The app's compressor and validator, built on first use (loading the embedder takes ~1 s)."""

    def __init__(self, request: Request) -> None:
        state = request.app.state
        allow = bool(getattr(state.settings, "allow_unknown_models", False))
        tape = os.environ.get("POLYTOK_GLYPH_TAPE") or None
        self.compressor = ContextCompressor(
            CompressorConfig(glyph_tape=tape), counter=state.counter, allow_unknown_models=allow
        )
        self.validator = CompressionValidator(
            ValidatorConfig(bertscore_model_dir=os.environ.get("POLYTOK_BERTSCORE_MODEL_DIR")),
            embedder=self.compressor.embedder,
        )


def _engines(request: Request) -> _Engines:
    with _lock:
        engines = getattr(request.app.state, "compress_engines", None)
        if engines is None:
            engines = _Engines(request)
            request.app.state.compress_engines = engines
        return engines


def _check_model(request: Request, model_id: str) -> None:
    allow = bool(getattr(request.app.state.settings, "allow_unknown_models", False))
    try:
        request.app.state.counter.registry.resolve(model_id, allow_unknown=allow)
    except UnknownModelError as err:
        raise HTTPException(404, {"error": str(err), "families": list(FAMILIES[:-1])}) from err


def _record(
    request: Request, section: str, count_key: str, means: dict[str, float], **totals: float
) -> None:
    """Add totals; move each running mean by ``(x - mean) / n`` (the stats only add values)."""
    stats = request.app.state.stats
    with _lock:
        current = stats.snapshot()["sections"].get(section, {})
        n = current.get(count_key, 0) + 1
        deltas = {k: (v - current.get(k, 0.0)) / n for k, v in means.items()}
        stats.record(section, **{count_key: 1}, **totals, **deltas)


class TooManyChunks(ValueError):
    """The context splits into more chunks than the service accepts (answered with 413)."""


def _compress(request: Request, body: CompressRequest) -> dict[str, Any]:
    settings = request.app.state.settings
    engines = _engines(request)
    config = engines.compressor.config
    chunks = len(split_chunks(body.context, config.min_words, config.max_chunk_chars))
    if chunks > settings.compress_max_chunks:
        raise TooManyChunks(
            f"the context splits into {chunks} chunks (sentences); this server compresses at "
            f"most {settings.compress_max_chunks} per request: send a shorter context or "
            "split it over several requests"
        )
    with work_limits(settings.compress_deadline_s, request.app.state.shutdown):
        return _compress_within_limits(engines, body)


def _compress_within_limits(engines: _Engines, body: CompressRequest) -> dict[str, Any]:
    result = engines.compressor.compress(
        body.context,
        query=body.query,
        model_id=body.model_id,
        target_tokens=body.target_tokens,
        target_ratio=body.target_ratio,
        strategy=body.strategy,
    )
    quality = engines.validator.validate(body.context, result.text, metrics=["embedding"])
    out = result.to_dict()
    out["quality"] = quality.scores.get("embedding", 0.0)
    return out


def _slots(request: Request) -> threading.BoundedSemaphore:
    with _lock:
        slots = getattr(request.app.state, "compress_slots", None)
        if slots is None:
            limit = request.app.state.settings.compress_max_concurrent
            slots = request.app.state.compress_slots = threading.BoundedSemaphore(limit)
        return slots


@router.post("/compress")
async def compress(body: CompressRequest, request: Request) -> dict[str, Any]:
    """Compress ``context`` for ``query`` and ``model_id`` to ``target_tokens`` or ``target_ratio``."""
    _check_model(request, body.model_id)
    slots = _slots(request)
    if not slots.acquire(blocking=False):
        limit = request.app.state.settings.compress_max_concurrent
        raise HTTPException(
            503, f"{limit} compressions are running; retry shortly", {"Retry-After": "1"}
        )
    try:
        out = await run_in_threadpool(_compress, request, body)
    except TooManyChunks as err:
        raise HTTPException(413, str(err)) from err
    except WorkLimitExceeded as err:
        raise HTTPException(422 if err.reason == "deadline" else 503, str(err)) from err
    except ValueError as err:
        raise HTTPException(422, str(err)) from err
    except FileNotFoundError as err:  # a configured glyph tape or HF tokenizer is missing
        raise HTTPException(503, str(err)) from err
    finally:
        slots.release()
    _record(
        request,
        "compress",
        "compressions",
        {"mean_ratio": out["ratio"], "mean_quality": out["quality"]},
        original_tokens=out["original_tokens"],
        compressed_tokens=out["compressed_tokens"],
        tokens_saved=out["tokens_saved"],
        unchanged=int(out["unchanged"]),
    )
    return out


@router.post("/validate")
async def validate(body: ValidateRequest, request: Request) -> dict[str, Any]:
    """Score ``compressed`` against ``original``; a metric that errors fails the validation."""

    def run() -> dict[str, Any]:
        return (
            _engines(request)
            .validator.validate(
                body.original, body.compressed, body.metrics, body.query, body.thresholds
            )
            .to_dict()
        )

    try:
        out = await run_in_threadpool(run)
    except ValueError as err:
        raise HTTPException(422, str(err)) from err
    _record(
        request,
        "validate",
        "validations",
        {"mean_quality": out["quality"]},
        passed=int(out["passed"]),
        failed=int(not out["passed"]),
    )
    return out

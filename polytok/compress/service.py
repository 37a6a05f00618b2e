"""``POST /compress`` and ``POST /validate``, mounted on the counting service.

`polytok.count.service.create_app` mounts `router` with its API-key dependency and body-size
limit, and exposes ``app.state.counter`` (the `TokenCounter` that also counts budgets here),
``app.state.settings`` and ``app.state.stats``. Section ``"compress"`` of ``GET /stats`` holds
``compressions``, ``original_tokens``, ``compressed_tokens``, ``tokens_saved``, ``mean_ratio`` and
``mean_quality`` (quality = embedding cosine of compressed vs original); section ``"validate"``
holds ``validations``, ``passed``, ``failed`` and ``mean_quality``. Means are kept exact by
recording the change of the running mean (the stats store only adds).

Optional environment: ``POLYTOK_BERTSCORE_MODEL_DIR`` (local model directory enabling the
``bertscore`` metric), ``POLYTOK_GLYPH_TAPE`` (glyph tape enabling the lossless glyph option).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from polytok.compress.compressor import CompressorConfig, ContextCompressor
from polytok.compress.validator import CompressionValidator, ValidatorConfig
from polytok.count import FAMILIES, UnknownModelError

router = APIRouter(tags=["compress"])
_lock = threading.Lock()


class CompressRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    context: str
    query: str | None = None
    model_id: str = Field(default="gpt-4o", min_length=1, max_length=256)
    target_tokens: int | None = Field(default=None, ge=1)
    target_ratio: float | None = Field(default=None, gt=0.0, le=1.0)
    strategy: Literal["mmr", "lead", "random"] = "mmr"


class ValidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    original: str
    compressed: str
    metrics: list[str] | None = Field(default=None, max_length=8)
    query: str | None = None
    thresholds: dict[str, float] | None = None


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


def _compress(request: Request, body: CompressRequest) -> dict[str, Any]:
    engines = _engines(request)
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


@router.post("/compress")
async def compress(body: CompressRequest, request: Request) -> dict[str, Any]:
    """Compress ``context`` for ``query`` and ``model_id`` to ``target_tokens`` or ``target_ratio``."""
    _check_model(request, body.model_id)
    try:
        out = await run_in_threadpool(_compress, request, body)
    except ValueError as err:
        raise HTTPException(422, str(err)) from err
    except FileNotFoundError as err:  # a configured glyph tape or HF tokenizer is missing
        raise HTTPException(503, str(err)) from err
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

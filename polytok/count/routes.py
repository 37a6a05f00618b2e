"""The counting routes: ``POST /count-tokens``, ``POST /count-tokens/batch``, ``GET /models``,
``GET /cache/stats``.

Mounted by `polytok.service.create_app`, which provides ``app.state.counter`` (the `TokenCounter`),
``app.state.settings`` (``allow_unknown_models``) and ``app.state.stats`` (totals of section
``"count"`` are recorded here), and applies the API key and body-size limit to every route.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from polytok.count.counter import CountResult, TokenCounter
from polytok.count.registry import FAMILIES, ModelInfo, UnknownModelError

MAX_BATCH = 4096


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


def _count_errors(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except FileNotFoundError as err:  # an HF model mapped to a missing directory
        raise HTTPException(503, str(err)) from err


router = APIRouter(tags=["count"])


@router.post("/count-tokens", response_model=None)
async def count_tokens(body: CountRequest, request: Request) -> JSONResponse:
    """Count one text."""
    _check_model(request, body.model_id)
    counter: TokenCounter = request.app.state.counter
    try:  # encodes on this thread; awaits L3 on the loop; online counts in a worker thread
        result = await counter.acount(body.model_id, body.text)
    except FileNotFoundError as err:  # an HF model mapped to a missing directory
        raise HTTPException(503, str(err)) from err
    request.app.state.stats.record(
        "count", requests=1, texts=1, tokens=result.count, cached=int(result.cached)
    )
    return JSONResponse(_result_json(result))  # already JSON-safe: skip response validation


@router.post("/count-tokens/batch")
async def count_tokens_batch(body: BatchRequest, request: Request) -> dict[str, Any]:
    """Count many texts for one model (encoded in parallel, off the event loop)."""
    _check_model(request, body.model_id)
    counter: TokenCounter = request.app.state.counter
    try:  # the first build of the backend: see TokenCounter.aprepare
        await counter.aprepare(body.model_id)
    except FileNotFoundError as err:
        raise HTTPException(503, str(err)) from err
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

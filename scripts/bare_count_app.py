"""The baseline of ``scripts/bench_count.py``: a bare FastAPI endpoint that only calls tiktoken.

``uvicorn --factory --app-dir scripts bare_count_app:create`` serves ``POST /count-tokens``
(``{"text", "model_id"}`` -> ``{"count"}``) for gpt-4o's encoding (o200k_base, loaded offline
once at start-up): no cache, no registry, no authentication, no statistics.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel


class Body(BaseModel):
    text: str
    model_id: str


def create() -> FastAPI:
    from polytok.tokenizers import get_tokenizer

    encoding = get_tokenizer("o200k_base").encoding  # a tiktoken.Encoding
    app = FastAPI()

    @app.post("/count-tokens")
    async def count_tokens(body: Body) -> dict[str, int]:
        return {"count": len(encoding.encode_ordinary(body.text))}

    return app

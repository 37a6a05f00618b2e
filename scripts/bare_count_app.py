"""The baseline of ``scripts/bench_count.py``: a bare FastAPI endpoint that only calls tiktoken.

``python scripts/bare_count_app.py --port P [--workers N]`` serves ``POST /count-tokens``
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


def main() -> None:
    """``python scripts/bare_count_app.py --port P [--workers N]``: serve it under uvicorn.

    With several workers, the listening socket is bound as ``polytok serve`` binds it
    (`polytok.service.listening_socket`, with ``TCP_NODELAY``): uvicorn's own socket for
    ``workers > 1`` leaves Nagle's algorithm on, which costs about 40 ms per request and would
    make the baseline, not the app, the thing measured.
    """
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    options = {"factory": True, "log_level": "warning"}
    if args.workers == 1:
        uvicorn.run("bare_count_app:create", host=args.host, port=args.port, **options)
        return
    from polytok.service import listening_socket  # the supervisor only: workers import create

    sock = listening_socket(args.host, args.port)
    uvicorn.run("bare_count_app:create", workers=args.workers, fd=sock.fileno(), **options)


if __name__ == "__main__":
    main()

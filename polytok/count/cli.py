"""``polytok count``, ``polytok models`` and ``polytok serve``."""

from __future__ import annotations

import argparse
import itertools
import json
import sys

from polytok.argtypes import byte_size


def _count(args: argparse.Namespace) -> int:
    from polytok.count import CacheConfig, TokenCounter

    counter = TokenCounter(
        cache=CacheConfig(disk_path=args.cache_db), hf_tokenizers=args.hf_tokenizers
    )
    sources = args.files or ["-"]
    try:
        results = [_count_source(counter, args.model, name, args.max_bytes) for name in sources]
    finally:
        counter.close()
    if args.json:
        rows = [
            {
                "file": n,
                "count": r.count,
                "strategy": r.strategy,
                "encoding": r.encoding,
                "exact": r.exact,
            }
            for n, r in zip(sources, results)
        ]
        print(json.dumps(rows))
    else:
        for name, r in zip(sources, results):
            print(f"{r.count}\t{name}")
        if len(results) > 1:
            print(f"{sum(r.count for r in results)}\ttotal")
        first = results[0]
        if not first.exact:
            print(
                f"note: {args.model} is approximated ({first.strategy}, {first.encoding}, "
                f"typical error {first.typical_error:.0%})",
                file=sys.stderr,
            )
    return 0


def _count_source(counter, model: str, name: str, max_bytes: int):
    """Count one file (or ``-``: stdin) in bounded memory; small inputs go through the cache."""
    from polytok.count.stream import MIN_SEGMENT_CHARS, count_stream, open_text_input

    with open_text_input(name, max_bytes) as blocks:
        head: list[str] = []
        size = 0
        for block in blocks:
            head.append(block)
            size += len(block)
            if size > MIN_SEGMENT_CHARS:  # a large input: stream it
                return count_stream(counter, model, itertools.chain(head, blocks), name)
        return counter.count(model, "".join(head))


def _models(args: argparse.Namespace) -> int:
    from polytok.count import TokenCounter

    rows = TokenCounter(cache=None, hf_tokenizers=args.hf_tokenizers).models()
    if args.json:
        print(json.dumps(rows))
        return 0
    for row in rows:
        extra = "exact" if row["exact"] else f"~{row['typical_error']:.0%} typical error"
        print(f"{row['model']:<40} {row['family']:<15} {row['encoding']:<24} {extra}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Run the service; with ``--workers N`` every worker process shares one L3 (Redis)."""
    import logging
    import os
    import tempfile

    import uvicorn

    from polytok.count.redis_server import LocalRedisServer
    from polytok.count.service import ServiceSettings, create_app

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
    try:
        uvicorn.run(
            "polytok.count.service:app_from_env", factory=True, workers=args.workers, **options
        )
    finally:
        if local is not None:
            local.kill()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``count``, ``models`` and ``serve`` to the ``polytok`` command."""
    p = subparsers.add_parser("count", help="count tokens of files (or stdin) for a model")
    p.add_argument("--model", "-m", required=True, help="model id, e.g. gpt-4o, claude-sonnet-4-5")
    p.add_argument("files", nargs="*", help="UTF-8 text files ('-' or none: stdin)")
    p.add_argument("--json", action="store_true", help="print JSON rows")
    p.add_argument("--cache-db", default=None, help="SQLite file for the L2 cache")
    p.add_argument("--hf-tokenizers", default=None, help="YAML/JSON map of HF ids to local dirs")
    p.add_argument(
        "--max-bytes",
        type=byte_size,
        default=1 << 30,
        help="refuse inputs larger than this (default 1G; e.g. 64M, 10G); counting streams "
        "in bounded memory",
    )
    p.set_defaults(func=_count)

    p = subparsers.add_parser("models", help="list known models and how they are counted")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--hf-tokenizers", default=None, help="YAML/JSON map of HF ids to local dirs")
    p.set_defaults(func=_models)

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

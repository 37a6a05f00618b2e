"""``polytok count``, ``polytok models`` and ``polytok serve``."""

from __future__ import annotations

import argparse
import json
import sys


def _count(args: argparse.Namespace) -> int:
    from polytok.count import CacheConfig, TokenCounter

    counter = TokenCounter(
        cache=CacheConfig(disk_path=args.cache_db), hf_tokenizers=args.hf_tokenizers
    )
    sources = args.files or ["-"]
    texts = []
    for name in sources:
        if name == "-":
            texts.append(sys.stdin.read())
        else:
            with open(name, encoding="utf-8") as f:
                texts.append(f.read())
    results = counter.count_batch(args.model, texts)
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
    counter.close()
    return 0


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
    import uvicorn

    from polytok.count.service import ServiceSettings, create_app

    settings = ServiceSettings.from_env()
    if args.cache_db:
        settings.cache_db = args.cache_db
    if args.redis_url:
        settings.redis_url = args.redis_url
    settings.allow_unknown_models = args.allow_unknown
    uvicorn.run(
        create_app(settings=settings), host=args.host, port=args.port, log_level=args.log_level
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``count``, ``models`` and ``serve`` to the ``polytok`` command."""
    p = subparsers.add_parser("count", help="count tokens of files (or stdin) for a model")
    p.add_argument("--model", "-m", required=True, help="model id, e.g. gpt-4o, claude-sonnet-4-5")
    p.add_argument("files", nargs="*", help="UTF-8 text files ('-' or none: stdin)")
    p.add_argument("--json", action="store_true", help="print JSON rows")
    p.add_argument("--cache-db", default=None, help="SQLite file for the L2 cache")
    p.add_argument("--hf-tokenizers", default=None, help="YAML/JSON map of HF ids to local dirs")
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
    p.set_defaults(func=_serve)

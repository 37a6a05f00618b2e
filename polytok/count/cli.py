"""``polytok count``, ``polytok models`` and ``polytok serve``."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path


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
    if name == "-":
        return _count_open(
            counter, model, getattr(sys.stdin, "buffer", sys.stdin), "stdin", max_bytes
        )
    path = Path(name)
    if path.is_dir():
        raise IsADirectoryError(f"{name} is a directory; pass the files in it, e.g. {name}/*.txt")
    if not path.exists():
        raise FileNotFoundError(f"no such file: {name}")
    with open(path, "rb") as source:
        return _count_open(counter, model, source, name, max_bytes)


def _count_open(counter, model: str, source, name: str, max_bytes: int):
    from polytok.count.stream import MIN_SEGMENT_CHARS, count_stream, read_text_stream

    blocks = read_text_stream(source, name, max_bytes)
    head: list[str] = []
    size = 0
    for block in blocks:
        head.append(block)
        size += len(block)
        if size > MIN_SEGMENT_CHARS:  # a large input: stream it
            return count_stream(counter, model, itertools.chain(head, blocks), name)
    return counter.count(model, "".join(head))


def _size(text: str) -> int:
    """argparse type: a byte count such as ``1048576``, ``64M`` or ``2G``."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    factor = units.get(text[-1:].upper(), 1)
    number = text[:-1] if factor > 1 else text
    try:
        value = int(number) * factor
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size like 64M or 2G, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"the size must be positive, got {text!r}")
    return value


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
    p.add_argument(
        "--max-bytes",
        type=_size,
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
    p.set_defaults(func=_serve)

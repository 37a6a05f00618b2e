"""``polytok count`` and ``polytok models`` (``polytok serve`` is in `polytok.service`)."""

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


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``count`` and ``models`` to the ``polytok`` command."""
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

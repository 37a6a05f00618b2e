"""``polytok compress``: compress a file (or stdin) for a query and model under a token budget."""

from __future__ import annotations

import argparse
import json
import sys


def _run(args: argparse.Namespace) -> int:
    from polytok.compress.compressor import CompressorConfig, ContextCompressor
    from polytok.compress.validator import CompressionValidator
    from polytok.count.stream import read_text_input

    if (args.ratio is None) == (args.tokens is None):
        raise ValueError("give exactly one of --ratio (share in (0, 1]) and --tokens (a budget)")
    context = read_text_input(args.file)  # names directories and binary input
    config = CompressorConfig(strategy=args.strategy, seed=args.seed, glyph_tape=args.glyph_tape)
    compressor = ContextCompressor(config)
    result = compressor.compress(
        context,
        query=args.query,
        model_id=args.model,
        target_tokens=args.tokens,
        target_ratio=args.ratio,
    )
    report = result.to_dict()
    if args.validate:
        validator = CompressionValidator(embedder=compressor.embedder)
        report["validation"] = validator.validate(context, result.text, query=args.query).to_dict()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(result.text + ("" if result.text.endswith("\n") else "\n"))
        note = " (unchanged: budget covers the context)" if result.unchanged else ""
        print(
            f"{result.original_tokens} -> {result.compressed_tokens} tokens for {args.model} "
            f"(ratio {result.ratio:.3f}, {len(result.kept_spans)} spans){note}",
            file=sys.stderr,
        )
        if args.validate:
            v = report["validation"]
            scores = ", ".join(f"{k} {x:.3f}" for k, x in v["scores"].items())
            print(f"validation {'passed' if v['passed'] else 'FAILED'}: {scores}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``compress`` to the ``polytok`` command."""
    p = subparsers.add_parser(
        "compress",
        help="compress a context for a query under a token budget",
        description="Keep the query-relevant, non-redundant sentences (code blocks and lists "
        "whole) of FILE within a token budget for --model, in their original order.",
    )
    p.add_argument("file", metavar="FILE", help="text file to compress ('-' reads stdin)")
    p.add_argument("--model", default="gpt-4o", help="model whose tokenizer counts the budget")
    p.add_argument("--query", default=None, help="what the compressed context must answer")
    p.add_argument("--ratio", type=float, default=None, help="keep this share of tokens, (0, 1]")
    p.add_argument("--tokens", type=int, default=None, help="token budget (instead of --ratio)")
    p.add_argument("--strategy", default="mmr", choices=("mmr", "lead", "random"))
    p.add_argument("--seed", type=int, default=0, help="seed of the random baseline")
    p.add_argument("--glyph-tape", default=None, help="glyph tape for the lossless glyph option")
    p.add_argument("--validate", action="store_true", help="also score the result")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.set_defaults(func=_run)

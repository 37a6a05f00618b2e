"""Benchmark polytok's context compressor against the lead and random baselines.

Held-out dialogs (chatterbot-corpus, all languages, test split; consecutive conversations grouped
into chat histories) and Shakespeare scenes (test plays split at "SCENE" headings) are compressed
to ratios 0.5 and 0.2 for gpt-4o (o200k_base, exact) with a query derived deterministically from
each document (the question-like line nearest its middle, else its middle line). The validator
scores ROUGE-L, embedding similarity and query-answer retention; throughput is original tokens per
second of compression (single thread). "answer kept" (share of documents whose line after the
query line survives verbatim) does not depend on the embedder. Exits non-zero when polytok's mean
on any validator score (ROUGE-L, embedding, query retention, their mean "quality") or on answer
kept does not beat both baselines. The selection weights were tuned on the validation split.

    python scripts/bench_compress.py            # full run (held-out test split)
    python scripts/bench_compress.py --split val --max-docs 10
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import defaultdict

import torch

from polytok.compress import CompressionValidator, CompressorConfig, ContextCompressor
from polytok.data import load_source
from polytok.embed import StaticEmbedder

STRATEGIES = ("mmr", "lead", "random")
METRICS = ("rouge-l", "embedding", "query-retention")


def dialog_contexts(split: str, per_context: int) -> list[str]:
    """Consecutive held-out conversations (same language order) joined into chat histories."""
    docs = load_source({"name": "dialog", "language": "all"}).documents(split)
    groups = [docs[i : i + per_context] for i in range(0, len(docs), per_context)]
    return ["\n\n".join(g) for g in groups if len(g) == per_context]


def shakespeare_scenes(split: str, min_chars: int) -> list[str]:
    """Scenes of the held-out plays, split at "SCENE <roman>." headings."""
    scenes = []
    for play in load_source({"name": "shakespeare"}).documents(split):
        parts = re.split(r"(?m)^(?=SCENE [IVXLC]+\.)", play)[1:]
        scenes.extend(p.strip() for p in parts if len(p) >= min_chars)
    return scenes


def derive_query(doc: str) -> tuple[str, str]:
    """The question-like line nearest the middle of ``doc`` (else its middle line) and the line
    after it (its answer in a dialog; the reply or continuation in a play)."""
    lines = [line.strip() for line in doc.splitlines() if len(line.split()) >= 3 or len(line) >= 8]
    middle = len(lines) // 2
    questions = [i for i, line in enumerate(lines[:-1]) if line.endswith(("?", "？", "؟"))]
    i = min(questions, key=lambda i: abs(i - middle)) if questions else min(middle, len(lines) - 2)
    return lines[i], lines[i + 1]


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(1)
    embedder = StaticEmbedder()
    validator = CompressionValidator(embedder=embedder)
    datasets = {
        "dialogs": dialog_contexts(args.split, args.dialogs_per_context),
        "shakespeare": shakespeare_scenes(args.split, args.min_scene_chars),
    }
    config = dict(
        mmr_lambda=args.mmr_lambda,
        query_weight=args.query_weight,
        follow_weight=args.follow_weight,
        cost_exponent=args.cost_exponent,
        density_weight=args.density_weight,
    )
    rows, failures = [], []
    for name, docs in datasets.items():
        docs = docs[: args.max_docs] if args.max_docs else docs
        pairs = [derive_query(d) for d in docs]
        for ratio in args.ratios:
            scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
            tokens: dict[str, int] = defaultdict(int)
            seconds: dict[str, float] = defaultdict(float)
            for i, (doc, (query, answer)) in enumerate(zip(docs, pairs)):
                for strategy in STRATEGIES:
                    compressor = ContextCompressor(
                        CompressorConfig(strategy=strategy, seed=i, **config), embedder=embedder
                    )
                    compressor.compress(doc[:200], target_ratio=1.0)  # load the counter
                    start = time.perf_counter()
                    result = compressor.compress(doc, query=query, target_ratio=ratio)
                    seconds[strategy] += time.perf_counter() - start
                    tokens[strategy] += result.original_tokens
                    assert result.compressed_tokens <= result.target_tokens
                    v = validator.validate(doc, result.text, metrics=METRICS, query=query)
                    if set(v.scores) != set(METRICS):
                        raise RuntimeError(f"a metric failed: {v.failures}")
                    for metric, value in v.scores.items():
                        scores[strategy][metric].append(value)
                    scores[strategy]["quality"].append(v.quality)
                    scores[strategy]["ratio"].append(result.ratio)
                    # independent of any embedding: is the line after the query kept verbatim?
                    scores[strategy]["answer"].append(float(answer in result.text))
            means = {s: {m: statistics.mean(v) for m, v in scores[s].items()} for s in STRATEGIES}
            for strategy in STRATEGIES:
                rows.append(
                    (
                        name,
                        len(docs),
                        ratio,
                        strategy,
                        means[strategy],
                        tokens[strategy] / seconds[strategy],
                    )
                )
            for key in ("quality", "rouge-l", "embedding", "query-retention", "answer"):
                best_baseline = max(means["lead"][key], means["random"][key])
                if means["mmr"][key] <= best_baseline:
                    failures.append(
                        f"{name} ratio {ratio}: polytok {key} {means['mmr'][key]:.3f} <= "
                        f"best baseline {best_baseline:.3f}"
                    )
    print(
        "| data | docs | target ratio | method | kept ratio | ROUGE-L F1 | embedding cos | "
        "query retention | mean quality | answer kept | tokens/s |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, n, ratio, strategy, m, tps in rows:
        label = "polytok (MMR)" if strategy == "mmr" else strategy
        print(
            f"| {name} | {n} | {ratio} | {label} | {m['ratio']:.3f} | {m['rouge-l']:.3f} | "
            f"{m['embedding']:.3f} | {m['query-retention']:.3f} | {m['quality']:.3f} | "
            f"{m['answer']:.3f} | {tps:,.0f} |"
        )
    if failures:
        print("\nTARGET MISSED:\n" + "\n".join(failures), file=sys.stderr)
        return 1
    print(
        "\npolytok beats lead and random on every validator score (ROUGE-L, embedding, query "
        "retention, mean quality) and on answer kept, on both data sets at every ratio."
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.5, 0.2])
    parser.add_argument("--max-docs", type=int, default=0, help="per data set; 0 = all")
    parser.add_argument("--dialogs-per-context", type=int, default=16)
    parser.add_argument("--min-scene-chars", type=int, default=2000)
    parser.add_argument("--mmr-lambda", type=float, default=CompressorConfig.mmr_lambda)
    parser.add_argument("--query-weight", type=float, default=CompressorConfig.query_weight)
    parser.add_argument("--follow-weight", type=float, default=CompressorConfig.follow_weight)
    parser.add_argument("--cost-exponent", type=float, default=CompressorConfig.cost_exponent)
    parser.add_argument("--density-weight", type=float, default=CompressorConfig.density_weight)
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())

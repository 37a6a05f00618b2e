"""Benchmark the glyph tape: token reduction vs baselines, encoding speed, build time.

    python scripts/bench_glyph.py [--glyphs 4096] [--out logs/bench_glyph]

Targets (issue 7), 4096 glyphs over cl100k_base: >= 15% fewer tokens on novel dialog lines and
>= 25% on held-out plays, each >= 2 points better than the naive n-gram baseline; >= 1 MB/s
lossless encoding on one core; tape build for 100,000 phrases < 60 s. Exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from polytok.glyph.build import TapeBuildConfig, build_tape
from polytok.glyph.efficiency import encode_speed, measure
from polytok.glyph.hybrid import HybridTokenizer
from polytok.tasks.context_efficiency import load_held_out

TARGETS = {"dialog": 0.15, "shakespeare": 0.25}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--glyphs", type=int, default=4096)
    parser.add_argument("--out", default="logs/bench_glyph")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from polytok.embed import StaticEmbedder

    embedder = StaticEmbedder()
    results, failures = {}, []
    print(
        "| corpus (held-out) | base tokens | glyph tape | naive n-gram | word BPE +k | "
        "tape - n-gram | round trip |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in ("dialog", "shakespeare"):
        data = load_held_out(name)
        r = measure(data, out / f"{name}.db", "cl100k_base", args.glyphs, embedder=embedder)
        results[name] = r
        red = r["test"]["reduction"]
        margin = red["hybrid"] - red["ngram"]
        print(
            f"| {name} ({r['test']['items']} items) | {r['test']['tokens']['base']} | "
            f"{100 * red['hybrid']:.1f}% | {100 * red['ngram']:.1f}% | "
            f"{100 * red['word_bpe']:.1f}% | {100 * margin:+.1f} pts | "
            f"{100 * r['test']['round_trip_exact']:.0f}% |"
        )
        if red["hybrid"] < TARGETS[name]:
            failures.append(f"{name}: {red['hybrid']:.3f} < {TARGETS[name]}")
        if margin < 0.02:
            failures.append(f"{name}: only {100 * margin:.1f} points better than n-gram")
        if r["test"]["round_trip_exact"] != 1.0:
            failures.append(f"{name}: round trip not exact")

    data = load_held_out("shakespeare")
    tok = HybridTokenizer("cl100k_base", out / "shakespeare.db")
    text = "\n".join(data.test)
    text = (text * (1 + 2_000_000 // len(text)))[:2_000_000]
    speed = encode_speed(tok, text)
    results["speed"] = speed
    print(
        f"\nlossless encode, 1 thread, {speed['mb']:.1f} MB of plays: "
        f"{speed['hybrid_mb_s']:.2f} MB/s (base cl100k alone {speed['base_mb_s']:.2f} MB/s, "
        f"ratio {speed['ratio_to_base']:.2f})"
    )
    if speed["hybrid_mb_s"] < 1.0:
        failures.append(f"speed {speed['hybrid_mb_s']:.2f} MB/s < 1")

    phrases = [line for play in data.train for line in play.split("\n") if line.strip()][:100_000]
    path = out / "phrases100k.db"
    path.unlink(missing_ok=True)
    start = time.perf_counter()
    build_tape(phrases, path, "cl100k_base", TapeBuildConfig(num_glyphs=4096, unit="line")).close()
    build_s = time.perf_counter() - start
    results["build_100k_phrases_s"] = build_s
    print(
        f"tape build, {len(phrases)} phrases (play lines), 4096 glyphs + 256 families, "
        f"embedder load included: {build_s:.1f} s"
    )
    if build_s >= 60:
        failures.append(f"build {build_s:.1f} s >= 60 s")
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    for failure in failures:
        print("TARGET MISSED:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

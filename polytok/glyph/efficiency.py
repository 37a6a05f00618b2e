"""Token-reduction measurements of a glyph tape against the base tokenizer and baselines.

Held-out definitions (issue 7): for the dialog corpus, the test split's lines minus every line
that also appears verbatim in train (the corpus repeats lines across conversations); for
Shakespeare, the whole test plays. Every id is counted: a glyph is one token, markers are never
needed in lossless mode. Baselines get the same number of added tokens (`polytok.glyph.baselines`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polytok.glyph.baselines import NgramBaseline, WordBPEBaseline, frequent_ngrams
from polytok.glyph.build import TapeBuildConfig, build_tape
from polytok.glyph.hybrid import HybridTokenizer

WINDOW = 2048


@dataclass
class HeldOut:
    """A corpus prepared for measurement."""

    name: str
    train: list[str]  # training documents (the tape's only input)
    val: list[str]  # validation items (same definition as test)
    test: list[str]  # held-out items, each encoded on its own
    unit: str  # mining unit for the tape: "line" or "document"


def novel_lines(train_docs: Sequence[str], docs: Sequence[str]) -> list[str]:
    """Non-empty lines of ``docs`` that never occur verbatim as a line of ``train_docs``."""
    seen = {line for doc in train_docs for line in doc.split("\n")}
    return [line for doc in docs for line in doc.split("\n") if line and line not in seen]


def _methods(tok: HybridTokenizer, data: HeldOut, num_glyphs: int, baselines: bool) -> dict:
    """Name -> encode function: the hybrid tokenizer, plus the n-gram and word-BPE baselines
    trained on ``data.train`` with as many new tokens."""
    encoding = tok.base.encoding
    units = [u for t in data.train for u in (t.split("\n") if data.unit == "line" else [t]) if u]
    methods: dict[str, Any] = {"hybrid": tok.encode}
    if baselines:
        train_ids = encoding.encode_ordinary_batch(units, num_threads=2)
        ngrams = NgramBaseline(
            [g for g, _, _ in frequent_ngrams(train_ids, num_glyphs)], encoding.n_vocab
        )
        methods["ngram"] = lambda t: ngrams.encode_ids(encoding.encode_ordinary(t))
        methods["word_bpe"] = WordBPEBaseline(encoding, units, num_glyphs).encode
    return methods


def _measure_split(tok: HybridTokenizer, methods: dict, items: list[str]) -> dict[str, Any]:
    """Tokens and reductions per method, round trip, documents per window and glyph usage."""
    encoding = tok.base.encoding
    base_counts = [len(encoding.encode_ordinary(t)) for t in items]
    n_base = sum(base_counts)
    row: dict[str, Any] = {"items": len(items), "bytes": sum(len(t.encode()) for t in items)}
    row["tokens"] = {"base": n_base}
    for method, encode in methods.items():
        n = sum(len(encode(t)) for t in items)
        row["tokens"][method] = n
        row.setdefault("reduction", {})[method] = 1 - n / max(n_base, 1)
    hybrid_ids = [tok.encode(t) for t in items]
    row["round_trip_exact"] = sum(tok.decode(i) == t for i, t in zip(hybrid_ids, items)) / max(
        len(items), 1
    )
    n_hybrid = row["tokens"]["hybrid"]
    row["docs_per_window"] = {
        "base": WINDOW * len(items) / max(n_base, 1),
        "hybrid": WINDOW * len(items) / max(n_hybrid, 1),
    }
    used = Counter(i for ids in hybrid_ids for i in ids if i >= encoding.n_vocab)
    row["glyph_usage"] = {
        "distinct_glyphs_used": len(used),
        "share_of_glyphs_used": len(used) / max(len(tok.glyphs), 1),
        "glyph_token_share": sum(used.values()) / max(n_hybrid, 1),
        "top": [[tok.decode([g]), c] for g, c in used.most_common(10)],
    }
    return row


def measure(
    data: HeldOut,
    tape_path: str | Path,
    base: str = "cl100k_base",
    num_glyphs: int = 4096,
    num_families: int = 0,
    embedder=None,
    baselines: bool = True,
) -> dict[str, Any]:
    """Build a tape on ``data.train`` and measure it (and the baselines) on val and test.

    Returns:
        A JSON-able dict: tokens and reductions per method and split, round-trip exactness,
        documents per 2048-token window, glyph usage, build time.
    """
    path = Path(tape_path)
    path.unlink(missing_ok=True)
    config = TapeBuildConfig(num_glyphs=num_glyphs, unit=data.unit, num_families=num_families)
    start = time.perf_counter()
    build_tape(data.train, path, base, config, embedder=embedder).close()
    build_s = time.perf_counter() - start
    tok = HybridTokenizer(base, path)
    methods = _methods(tok, data, num_glyphs, baselines)
    out: dict[str, Any] = {
        "corpus": data.name,
        "unit": data.unit,
        "base": base,
        "glyphs": len(tok.glyphs),
        "tape": str(path),
        "build_s": round(build_s, 2),
        "train_documents": len(data.train),
    }
    for split, items in (("val", data.val), ("test", data.test)):
        out[split] = _measure_split(tok, methods, items)
    return out


def encode_speed(tok: HybridTokenizer, text: str, repeats: int = 3) -> dict[str, float]:
    """Lossless encoding throughput (MB/s, best of ``repeats``) vs the base tokenizer alone."""
    nbytes = len(text.encode("utf-8"))
    base_s = min(_timed(tok.base.encode, text) for _ in range(repeats))
    hybrid_s = min(_timed(tok.encode, text) for _ in range(repeats))
    return {
        "mb": nbytes / 1e6,
        "base_mb_s": nbytes / base_s / 1e6,
        "hybrid_mb_s": nbytes / hybrid_s / 1e6,
        "ratio_to_base": base_s / hybrid_s,
    }


def _timed(fn, arg) -> float:
    start = time.perf_counter()
    fn(arg)
    return time.perf_counter() - start

"""Baselines that add the same number of tokens to a base tokenizer as a glyph tape.

* `frequent_ngrams`: the naive phrase baseline of issue 7: every base-token n-gram
  (n = 2..8) of the training corpus scored by ``frequency x (n - 1)`` (tokens saved if every
  occurrence were replaced), the top ``k`` kept, applied by greedy longest match.
* `word_bpe_merges`: a byte-level BPE retrained with ``k`` more merges on top of the base
  vocabulary (Sennrich et al., 2016), merges confined to the base tokenizer's pre-tokens (words),
  as a standard BPE vocabulary extension does. The glyph tape differs only in letting merges cross
  word and line boundaries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import regex

from polytok.glyph.matcher import GlyphMatcher
from polytok.glyph.mining import SEP, flatten, mine_merges

_PRIME = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier for polynomial window hashes


def _window_hashes(seq: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of all length-``n`` windows without a separator, and their start positions."""
    m = len(seq) - n + 1
    if m <= 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    u = seq.astype(np.uint64)  # separators become 2**64 - 1; masked out below
    h = np.zeros(m, dtype=np.uint64)
    bad = np.zeros(m, dtype=bool)
    with np.errstate(over="ignore"):
        for k in range(n):
            h = h * _PRIME + u[k : k + m] + np.uint64(1)
            bad |= seq[k : k + m] == SEP
    pos = np.flatnonzero(~bad)
    return h[pos], pos


def frequent_ngrams(
    sequences: Iterable[Sequence[int]], k: int, min_n: int = 2, max_n: int = 8
) -> list[tuple[tuple[int, ...], int, int]]:
    """Top-``k`` n-grams by frequency x tokens saved (overlapping occurrences counted).

    Args:
        sequences: training documents as base ids.
        k: number of n-grams to keep.
        min_n, max_n: n-gram lengths considered.

    Returns:
        ``[(ids, frequency, score)]`` best first, ``score = frequency * (n - 1)``.
    """
    seq = flatten(sequences)
    candidates: list[tuple[int, int, int, int]] = []  # (score, freq, n, position)
    for n in range(min_n, max_n + 1):
        h, pos = _window_hashes(seq, n)
        if not len(h):
            continue
        uniq, first, counts = np.unique(h, return_index=True, return_counts=True)
        del uniq
        score = counts * (n - 1)
        top = np.argsort(-score, kind="stable")[:k]
        candidates += [
            (int(score[i]), int(counts[i]), n, int(pos[first[i]])) for i in top if counts[i] > 1
        ]
    candidates.sort(key=lambda c: (-c[0], c[2], c[3]))
    return [(tuple(seq[p : p + n].tolist()), f, s) for s, f, n, p in candidates[:k]]


class NgramBaseline:
    """Base ids -> ids with the top n-grams as extra tokens (greedy longest match)."""

    def __init__(self, ngrams: Sequence[tuple[int, ...]], first_id: int) -> None:
        self.matcher = GlyphMatcher({g: first_id + i for i, g in enumerate(ngrams)})

    def encode_ids(self, ids: Sequence[int]) -> list[int]:
        return self.matcher.apply(ids)


class WordBPEBaseline:
    """``k`` extra BPE merges learned inside pre-tokens (no merge crosses a word boundary).

    Args:
        encoding: the base ``tiktoken.Encoding`` (its ``_pat_str`` gives the pre-tokens).
        texts: training documents.
        k: number of added tokens.
    """

    def __init__(self, encoding, texts: Iterable[str], k: int) -> None:
        self.encoding = encoding
        self.pattern = regex.compile(encoding._pat_str)
        chunks = (self.encoding.encode_ordinary(c) for t in texts for c in self._chunks(t))
        multi = [c for c in chunks if len(c) > 1]  # single-token words can never merge
        result = mine_merges(flatten(multi), k, encoding.n_vocab)
        self.merges = result.glyphs
        self.matcher = GlyphMatcher({g.base_ids: g.rank + encoding.n_vocab for g in result.glyphs})

    def _chunks(self, text: str) -> list[str]:
        return self.pattern.findall(text)

    def encode(self, text: str) -> list[int]:
        out: list[int] = []
        for chunk in self._chunks(text):
            out += self.matcher.apply(self.encoding.encode_ordinary(chunk))
        return out

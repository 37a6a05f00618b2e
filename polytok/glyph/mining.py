"""Phrase mining: iterative pair merges over base-token ids (superword BPE).

Byte-pair encoding (Sennrich et al., 2016, "Neural Machine Translation of Rare Words with Subword
Units") run over the ids of a base tokenizer instead of bytes, with merges allowed across word and
line boundaries (Liu et al., 2025, "SuperBPE: Space Travel for Language Models"). Each step merges
the most frequent adjacent pair; merging a pair that occurs ``c`` times shortens the corpus by
exactly ``c`` tokens, so greedy selection maximises tokens saved per new id. Every merge becomes
one glyph whose phrase is the concatenation of its two parts.

The corpus is one flat int64 array with ``-1`` separators between documents (no pair crosses a
separator). Pair counts live in a dict updated incrementally: after each merge only the pairs that
touch a merged position are subtracted (old sequence) and added (new sequence), and a lazy
max-heap gives the next best pair, so the cost per merge is a vectorised scan plus work
proportional to the pairs that changed (no recount of the corpus).
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

SEP = -1
_SHIFT = np.int64(21)  # pair code = left << 21 | right; ids < 2**21 (base + glyphs)


@dataclass(frozen=True)
class MinedGlyph:
    """One merge. ``base_ids`` is its full expansion; ``merge_count`` the occurrences merged."""

    rank: int
    left: int
    right: int
    base_ids: tuple[int, ...]
    merge_count: int


@dataclass(frozen=True)
class MiningResult:
    """Mined glyphs plus their frequency in the fully merged training corpus."""

    glyphs: list[MinedGlyph]
    final_counts: list[int]  # occurrences of each glyph after all merges (same order)
    base_tokens: int  # corpus length before merging (separators excluded)
    merged_tokens: int  # corpus length after all merges


def flatten(sequences: Iterable[Sequence[int]]) -> np.ndarray:
    """Documents of ids -> one int64 array with `SEP` between documents."""
    parts: list[np.ndarray] = []
    for seq in sequences:
        if len(seq):
            parts.append(np.asarray(seq, dtype=np.int64))
            parts.append(np.array([SEP], dtype=np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _pair_codes(seq: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Codes of the pairs starting at ``positions`` (pairs touching a separator dropped)."""
    positions = positions[(positions >= 0) & (positions < len(seq) - 1)]
    left, right = seq[positions].astype(np.int64), seq[positions + 1].astype(np.int64)
    keep = (left >= 0) & (right >= 0)
    return (left[keep] << _SHIFT) | right[keep]


def _non_overlapping(idx: np.ndarray) -> np.ndarray:
    """For a pair (a, a), keep every other start inside runs of consecutive starts (left first)."""
    if len(idx) < 2:
        return idx
    new_run = np.empty(len(idx), dtype=bool)
    new_run[0] = True
    new_run[1:] = np.diff(idx) != 1
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(len(idx)), 0))
    return idx[(np.arange(len(idx)) - run_start) % 2 == 0]


def _delete_sorted(seq: np.ndarray, drop: np.ndarray) -> np.ndarray:
    """``np.delete(seq, drop)`` for sorted ``drop``, as memcpy of the kept slices.

    Measured 5-10x faster than ``np.delete`` / boolean masks when few positions are dropped,
    which is the case for all but the first merges.
    """
    if len(drop) > len(seq) // 64:
        keep = np.ones(len(seq), dtype=bool)
        keep[drop] = False
        return seq[keep]
    starts = [0, *(drop + 1).tolist()]
    ends = [*drop.tolist(), len(seq)]
    return np.concatenate([seq[s:e] for s, e in zip(starts, ends)])


class _PairCounts:
    """Adjacent-pair counts with a lazy max-heap: stale heap entries are skipped on pop."""

    def __init__(self, seq: np.ndarray) -> None:
        uniq, cnt = np.unique(_pair_codes(seq, np.arange(len(seq) - 1)), return_counts=True)
        self.counts: dict[int, int] = dict(zip(uniq.tolist(), cnt.tolist()))
        self.heap = [(-c, k) for k, c in self.counts.items()]
        heapq.heapify(self.heap)
        self.banned: set[int] = set()  # pairs never to merge (too long)

    def pop_best(self) -> tuple[int, int] | None:
        """(pair code, count) of the most frequent pair, or None when no pair is left."""
        while self.heap:
            neg, code = heapq.heappop(self.heap)
            if self.counts.get(code, 0) == -neg and code not in self.banned:
                return code, -neg
        return None

    def update(self, removed: np.ndarray, added: np.ndarray) -> None:
        """Subtract the pair codes ``removed`` and add ``added`` (with repeats)."""
        changed: set[int] = set()
        old_u, old_c = np.unique(removed, return_counts=True)
        for k, c in zip(old_u.tolist(), old_c.tolist()):
            left = self.counts[k] - c
            if left:
                self.counts[k] = left
            else:
                del self.counts[k]
            changed.add(k)
        add_u, add_c = np.unique(added, return_counts=True)
        for k, c in zip(add_u.tolist(), add_c.tolist()):
            self.counts[k] = self.counts.get(k, 0) + c
            changed.add(k)
        for k in changed:
            if k in self.counts:
                heapq.heappush(self.heap, (-self.counts[k], k))


def _merge_pair(
    seq: np.ndarray, a: int, b: int, new_id: int
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Replace every (non-overlapping) ``a b`` by ``new_id``.

    Returns:
        (new sequence, occurrences merged, codes of the pairs that disappeared, codes of the
        pairs that appeared).
    """
    idx = np.flatnonzero(seq[:-1] == a)  # one full pass, then check b on the few hits
    idx = idx[seq[idx + 1] == b]
    if a == b:
        idx = _non_overlapping(idx)
    # Every pair touching a merged position, in the old sequence.
    removed = _pair_codes(seq, np.unique(np.concatenate([idx - 1, idx, idx + 1])))
    seq[idx] = new_id
    seq = _delete_sorted(seq, idx + 1)
    new_pos = idx - np.arange(len(idx))  # positions of the merged tokens after deletion
    added = _pair_codes(seq, np.unique(np.concatenate([new_pos - 1, new_pos])))
    return seq, len(idx), removed, added


def _check_mining(num_glyphs: int, first_id: int, min_count: int) -> None:
    if num_glyphs < 0:
        raise ValueError(f"num_glyphs must be >= 0, got {num_glyphs}")
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    if first_id + num_glyphs >= 2**21:
        raise ValueError(f"ids up to {first_id + num_glyphs} exceed the 2**21 id range")


def mine_merges(
    sequences: Iterable[Sequence[int]] | np.ndarray,
    num_glyphs: int,
    first_id: int,
    min_count: int = 2,
    max_length: int = 32,
    progress: Callable[[int], None] | None = None,
) -> MiningResult:
    """Learn up to ``num_glyphs`` merges over base ids, most frequent pair first.

    Args:
        sequences: documents as base-id sequences, or an already `flatten`-ed array.
        num_glyphs: maximum number of merges (glyphs) to learn.
        first_id: id given to the first glyph (the base vocabulary size); glyph k gets
            ``first_id + k``.
        min_count: stop when the best pair occurs fewer times (a merge must save >= this).
        max_length: never create a glyph longer than this many base ids.
        progress: called with the number of merges done so far after each merge.

    Returns:
        The merges in order, with counts. Complexity: O(merges * N) vectorised scan plus
        O(changed pairs) dict/heap work per merge.
    """
    _check_mining(num_glyphs, first_id, min_count)
    seq = sequences if isinstance(sequences, np.ndarray) else flatten(sequences)
    seq = seq.astype(np.int32, copy=True)  # int32 halves the memory traffic of each scan
    base_tokens = int((seq >= 0).sum())
    pairs = _PairCounts(seq)
    expansion: dict[int, tuple[int, ...]] = {}
    mask = np.int64((1 << 21) - 1)
    glyphs: list[MinedGlyph] = []
    while len(glyphs) < num_glyphs and (best := pairs.pop_best()) is not None:
        code, count = best
        if count < min_count:
            break
        a, b = int(code >> _SHIFT), int(code & mask)
        phrase = expansion.get(a, (a,)) + expansion.get(b, (b,))
        if len(phrase) > max_length:
            pairs.banned.add(code)  # too long: never merge (its counts stay exact for neighbours)
            continue
        new_id = first_id + len(glyphs)
        seq, merged, removed, added = _merge_pair(seq, a, b, new_id)
        pairs.update(removed, added)
        expansion[new_id] = phrase
        glyphs.append(MinedGlyph(len(glyphs), a, b, phrase, merged))
        if progress is not None:
            progress(len(glyphs))
    return _result(glyphs, seq, first_id, base_tokens)


def _result(
    glyphs: list[MinedGlyph], seq: np.ndarray, first_id: int, base_tokens: int
) -> MiningResult:
    final = np.bincount(seq[seq >= first_id] - first_id, minlength=len(glyphs))
    merged_tokens = int((seq >= 0).sum())
    logger.info(
        "mined %d glyphs: %d -> %d tokens (%.1f%% fewer)",
        len(glyphs),
        base_tokens,
        merged_tokens,
        100.0 * (1 - merged_tokens / max(base_tokens, 1)),
    )
    return MiningResult(glyphs, final[: len(glyphs)].tolist(), base_tokens, merged_tokens)

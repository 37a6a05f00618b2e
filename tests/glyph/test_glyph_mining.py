from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from polytok.glyph.matcher import GlyphMatcher
from polytok.glyph.mining import flatten, mine_merges


def naive_bpe(docs, num, first_id):
    """Reference: recount every pair each step, merge left to right (textbook BPE)."""
    docs = [list(d) for d in docs]
    merges = []
    for _ in range(num):
        counts = Counter()
        for d in docs:
            i = 0
            while i < len(d) - 1:
                counts[(d[i], d[i + 1])] += 1
                i += 1
        if not counts:
            break
        best = max(counts.values())
        if best < 2:
            break
        a, b = min(p for p, c in counts.items() if c == best)
        new = first_id + len(merges)
        for k, d in enumerate(docs):
            out, i = [], 0
            while i < len(d):
                if i < len(d) - 1 and d[i] == a and d[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(d[i])
                    i += 1
            docs[k] = out
        merges.append((a, b))
    return merges, docs


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 4), min_size=0, max_size=30), min_size=1, max_size=5))
def test_merges_equal_textbook_bpe_when_no_runs(docs):
    # Runs like "a a a" make the incremental count differ only in tie/overlap accounting, so the
    # exact comparison uses sequences without equal neighbours.
    docs = [[x for i, x in enumerate(d) if i == 0 or d[i - 1] != x] for d in docs]
    result = mine_merges(docs, 10, 100)
    expected, merged = naive_bpe(docs, 10, 100)
    assert [(g.left, g.right) for g in result.glyphs] == expected
    assert result.merged_tokens == sum(len(d) for d in merged)
    assert result.base_tokens == sum(len(d) for d in docs)


def test_merge_saves_its_count_and_expansion_is_exact():
    docs = [[1, 2, 3, 1, 2, 3, 1, 2, 4]] * 3
    result = mine_merges(docs, 5, 10)
    first = result.glyphs[0]
    assert (first.left, first.right, first.merge_count) == (1, 2, 9)
    assert result.glyphs[1].base_ids == (3, 1, 2)  # ties: (10, 3) and (3, 10), smaller code wins
    assert result.base_tokens - result.merged_tokens == sum(g.merge_count for g in result.glyphs)


def test_runs_of_equal_ids_do_not_overlap():
    result = mine_merges([[7, 7, 7, 7, 7]], 1, 10)
    assert result.glyphs[0].merge_count == 2  # (7 7)(7 7) 7
    assert result.merged_tokens == 3


def test_no_pair_crosses_documents_and_limits_hold():
    result = mine_merges([[1, 2], [3, 4], [2, 3]], 10, 10)
    assert result.glyphs == []  # every pair occurs once: min_count=2 stops
    long = mine_merges([[1, 2, 3, 4, 5, 6] * 4], 20, 10, max_length=3)
    assert all(len(g.base_ids) <= 3 for g in long.glyphs)
    assert len(flatten([[1], [], [2, 3]])) == 5


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(0, 5), max_size=40),
    st.lists(st.lists(st.integers(0, 5), min_size=2, max_size=4), max_size=8),
)
def test_matcher_is_leftmost_longest(ids, keys):
    table = {tuple(k): 100 + i for i, k in enumerate(dict.fromkeys(map(tuple, keys)))}
    out = GlyphMatcher(table).apply(ids)
    expected, i = [], 0
    while i < len(ids):
        for n in range(min(4, len(ids) - i), 1, -1):
            if tuple(ids[i : i + n]) in table:
                expected.append(table[tuple(ids[i : i + n])])
                i += n
                break
        else:
            expected.append(ids[i])
            i += 1
    assert out == expected
    segments = GlyphMatcher(table).segments(ids)
    assert [t for t, _, _ in segments] == out
    assert [s for _, s, _ in segments] == sorted(s for _, s, _ in segments)
    assert np.all(np.diff([0] + [e for _, _, e in segments]) >= 1)

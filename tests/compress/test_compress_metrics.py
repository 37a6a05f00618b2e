"""ROUGE-L (bit-parallel LCS) and BERTScore arithmetic."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from polytok.compress.metrics import bertscore, lcs_length, rouge_l


def _dp_lcs(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from("abcde"), max_size=40),
    st.lists(st.sampled_from("abcdef"), max_size=40),
)
def test_lcs_matches_dynamic_programming(a: list[str], b: list[str]) -> None:
    assert lcs_length(a, b) == _dp_lcs(a, b)


def test_rouge_l_values() -> None:
    r = rouge_l("the cat sat on the mat", "the cat on the mat")
    assert r.precision == 1.0 and r.recall == pytest.approx(5 / 6)
    assert r.f == pytest.approx(2 * (5 / 6) / (1 + 5 / 6))
    assert rouge_l("a b c", "x y").f == 0.0
    with pytest.raises(ValueError, match="no words"):
        rouge_l("  ...  ", "x")


def test_rouge_l_handles_non_ascii() -> None:
    # rouge-score's default tokenizer drops these characters and would score 0
    assert rouge_l("我们今天去公园散步", "我们去公园").f == pytest.approx(2 * 5 / (9 + 5))
    assert rouge_l("Привет, как дела сегодня?", "как дела").recall == pytest.approx(0.5)
    assert rouge_l("café naïve Straße", "café Straße").precision == 1.0


def test_bertscore_greedy_matching() -> None:
    ref = [torch.eye(3)]  # three orthogonal unit tokens
    cand = [torch.eye(3)[:2]]
    r = bertscore(ref, cand)
    assert r.precision == pytest.approx(1.0) and r.recall == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="tokens on both sides"):
        bertscore(ref, [])

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


def test_rouge_scores_written_out() -> None:
    from polytok.compress.metrics import rouge_scores

    # unigrams 5/5 and 5/6, bigrams 3/4 and 3/5, LCS 5
    got = rouge_scores("the cat sat on the mat", "the cat on the mat")
    assert got["rouge1"] == pytest.approx(10 / 11)
    assert got["rouge2"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert got["rougeL"] == pytest.approx(10 / 11)
    # rouge-score's tokenizer drops non-ASCII; here they are Unicode words / CJK characters
    cjk = rouge_scores("我们今天去公园散步", "我们去公园")
    assert cjk["rougeL"] == pytest.approx(2 * 5 / (9 + 5)) and cjk["rouge1"] > 0
    with pytest.raises(ValueError, match="no words"):
        rouge_scores(" ... ", "x")


def test_unicode_rouge_agrees_with_rouge_score_on_ascii() -> None:
    """On ASCII without apostrophes the Unicode ROUGE-1/2/L equal rouge-score's."""
    from rouge_score import rouge_scorer

    from polytok.compress.aclsum import load_aclsum
    from polytok.compress.metrics import rouge_n

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    checked = 0
    for doc in load_aclsum("val")[:10]:
        reference = doc.summaries["approach"]
        candidate = " ".join(doc.sentences[:6])
        if "'" in reference + candidate or not (reference + candidate).isascii():
            continue
        lib = scorer.score(reference, candidate)
        assert rouge_l(reference, candidate).f == pytest.approx(lib["rougeL"].fmeasure)
        assert rouge_n(reference, candidate, 1).f == pytest.approx(lib["rouge1"].fmeasure)
        assert rouge_n(reference, candidate, 2).f == pytest.approx(lib["rouge2"].fmeasure)
        checked += 1
    assert checked >= 5


def test_highlight_recall() -> None:
    from polytok.compress.metrics import highlight_recall

    assert highlight_recall([0, 2], [1, 0, 1, 1]) == pytest.approx(2 / 3)
    assert highlight_recall([], [1, 0]) == 0.0
    assert highlight_recall([0], [0, 0]) is None


@pytest.mark.slow
def test_bertscore_f1_library_matches_greedy_reference() -> None:
    """bert-score with MiniLM equals greedy matching of MiniLM token vectors (eqs. 1-3)."""
    from transformers import AutoModel, AutoTokenizer

    from polytok.assets import minilm_dir
    from polytok.compress.metrics import bertscore_f1

    cand, ref = "The parser is accurate on news text.", "Parsing news text works well."
    got = bertscore_f1([cand, ref], [ref, ref])
    assert got[1] == pytest.approx(1.0, abs=1e-5)
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_dir()))
    model = AutoModel.from_pretrained(str(minilm_dir())).eval()

    def vectors(text):  # bert-score weighs [CLS]/[SEP] 0 but matches against them
        enc = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            hidden = torch.nn.functional.normalize(model(**enc).last_hidden_state[0], dim=-1)
        return hidden, hidden[1:-1]

    c_all, c_in = vectors(cand)
    r_all, r_in = vectors(ref)
    precision = (c_in @ r_all.T).max(1).values.mean()
    recall = (r_in @ c_all.T).max(1).values.mean()
    assert got[0] == pytest.approx(float(2 * precision * recall / (precision + recall)), abs=1e-4)
    with pytest.raises(ValueError, match="non-empty"):
        bertscore_f1([""], [ref])

"""Compression quality metrics: ROUGE-L, embedding cosine, BERTScore, query-answer retention.

* ROUGE-L (Lin, 2004, sec. 3.1, eqs. 2-4): LCS-based recall, precision and F-beta over
  Unicode words (`polytok.compress.text.words`). The LCS length uses the bit-parallel algorithm of
  Allison & Dix (1986) / Crochemore et al. (2001): one big-integer update per reference word, so
  whole documents compare in milliseconds.
* ROUGE-1/2/L for benchmarks (`rouge_scores`): Google's ``rouge-score`` package on ASCII text;
  its tokenizer keeps only ``[a-z0-9]``, so text with other characters is scored on Unicode
  words here instead (ROUGE-N, Lin, 2004, eq. 1, and the ROUGE-L above). On ASCII text without
  apostrophes (which ``rouge-score`` splits and `words` keeps inside a word) the two agree.
* BERTScore (Zhang et al., 2020, eqs. 1-3): greedy cosine matching of contextual token
  embeddings, without IDF weighting or baseline rescaling: `bertscore` on given vectors, and
  `bertscore_f1` through the maintained ``bert-score`` package with a local encoder.
* Highlight recall: the share of human-labelled sentences an extractive compression kept.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from polytok.compress.text import words

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token sequences.

    Bit-parallel (Crochemore et al., 2001): with ``M[y]`` the bitmask of positions of ``y`` in
    ``a`` and ``V`` initially all ones, each symbol ``y`` of ``b`` updates
    ``V = (V + (V & M[y])) | (V & ~M[y])``; the LCS length is the number of zero bits of ``V``
    (within ``len(a)`` bits). O(len(a) * len(b) / wordsize).
    """
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for token in b:
        m = masks.get(token)
        if m is None:
            continue
        u = v & m
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


@dataclass(frozen=True)
class RougeL:
    """ROUGE-L of a candidate against a reference."""

    precision: float
    recall: float
    f: float


def rouge_l(reference: str, candidate: str, beta: float = 1.0) -> RougeL:
    """ROUGE-L between texts on Unicode-aware words (Lin, 2004, eqs. 2-4).

    Args:
        reference: the original text.
        candidate: the compressed text.
        beta: recall weight of the F-measure (1 = F1).

    Raises:
        ValueError: the reference has no words (nothing to compare against).
    """
    ref, cand = words(reference), words(candidate)
    if not ref:
        raise ValueError("ROUGE-L: the reference has no words; nothing to compare against")
    lcs = lcs_length(ref, cand)
    if lcs == 0:
        return RougeL(0.0, 0.0, 0.0)
    recall, precision = lcs / len(ref), lcs / len(cand)
    f = (1 + beta**2) * recall * precision / (recall + beta**2 * precision)
    return RougeL(precision, recall, f)


def bertscore(reference: Sequence[torch.Tensor], candidate: Sequence[torch.Tensor]) -> RougeL:
    """BERTScore P/R/F1 from unit-norm token embeddings (Zhang et al., 2020, eqs. 1-3).

    Args:
        reference: per-piece (T_i, D) token embeddings of the reference, concatenated here.
        candidate: the same for the candidate.

    Returns:
        precision (mean best match of candidate tokens), recall (of reference tokens), F1.

    Raises:
        ValueError: either side has no tokens.
    """
    ref = torch.cat(list(reference)) if reference else torch.zeros(0, 1)
    cand = torch.cat(list(candidate)) if candidate else torch.zeros(0, 1)
    if ref.shape[0] == 0 or cand.shape[0] == 0:
        raise ValueError(
            f"BERTScore needs tokens on both sides, got {ref.shape[0]} reference and "
            f"{cand.shape[0]} candidate tokens"
        )
    sim = cand @ ref.T  # (Tc, Tr) cosine similarities
    precision = sim.max(dim=1).values.mean().item()
    recall = sim.max(dim=0).values.mean().item()
    f = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return RougeL(precision, recall, f)


@functools.lru_cache(maxsize=1)
def _rouge_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(ROUGE_KEYS), use_stemmer=False)


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def rouge_n(reference: str, candidate: str, n: int) -> RougeL:
    """ROUGE-N on Unicode words (Lin, 2004, eq. 1): clipped n-gram overlap P/R/F1."""
    ref, cand = _ngrams(words(reference), n), _ngrams(words(candidate), n)
    overlap = sum((ref & cand).values())
    if not overlap:
        return RougeL(0.0, 0.0, 0.0)
    precision, recall = overlap / sum(cand.values()), overlap / sum(ref.values())
    return RougeL(precision, recall, 2 * precision * recall / (precision + recall))


def rouge_scores(reference: str, candidate: str) -> dict[str, float]:
    """ROUGE-1/2/L F1 of ``candidate`` against ``reference`` (``rouge1``, ``rouge2``, ``rougeL``).

    ASCII text goes to ``rouge-score`` (no stemming); text with other characters, which its
    tokenizer would drop, is scored on Unicode words (`rouge_n`, `rouge_l`).

    Raises:
        ValueError: the reference has no words.
    """
    if not words(reference):
        raise ValueError("ROUGE: the reference has no words; nothing to compare against")
    if reference.isascii() and candidate.isascii():
        scores = _rouge_scorer().score(reference, candidate)
        return {key: float(scores[key].fmeasure) for key in ROUGE_KEYS}
    return {
        "rouge1": rouge_n(reference, candidate, 1).f,
        "rouge2": rouge_n(reference, candidate, 2).f,
        "rougeL": rouge_l(reference, candidate).f,
    }


def highlight_recall(kept: Sequence[int], labels: Sequence[int]) -> float | None:
    """Share of the sentences labelled 1 whose index is in ``kept``; None without any label."""
    positives = {i for i, label in enumerate(labels) if label}
    if not positives:
        return None
    return len(positives & set(kept)) / len(positives)


@functools.lru_cache(maxsize=2)
def _bert_scorer(model_dir: str, num_layers: int, batch_size: int):
    from bert_score import BERTScorer

    return BERTScorer(model_type=model_dir, num_layers=num_layers, batch_size=batch_size)


def bertscore_f1(
    candidates: Sequence[str],
    references: Sequence[str],
    model_dir: str | Path | None = None,
    num_layers: int | None = None,
    batch_size: int = 32,
) -> list[float]:
    """BERTScore F1 per pair through the ``bert-score`` package, with a local encoder.

    Args:
        candidates, references: equally long lists of texts.
        model_dir: local transformers encoder directory (default: all-MiniLM-L6-v2).
        num_layers: the layer whose token vectors are matched (default: the last).

    Raises:
        ValueError: lists of different lengths, or an empty text.
    """
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates for {len(references)} references")
    if any(not c.strip() for c in candidates) or any(not r.strip() for r in references):
        raise ValueError("BERTScore needs non-empty candidate and reference texts")
    if not candidates:
        return []
    if model_dir is None:
        from polytok.assets import minilm_dir

        model_dir = minilm_dir()
    if num_layers is None:
        import json

        num_layers = int(
            json.loads((Path(model_dir) / "config.json").read_text())["num_hidden_layers"]
        )
    scorer = _bert_scorer(str(model_dir), num_layers, batch_size)
    _, _, f1 = scorer.score(list(candidates), list(references), batch_size=batch_size)
    return [float(x) for x in f1]

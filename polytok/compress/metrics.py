"""Compression quality metrics: ROUGE-L, embedding cosine, BERTScore, query-answer retention.

* ROUGE-L (Lin, 2004, sec. 3.1, eqs. 2-4): LCS-based recall, precision and F-beta over
  Unicode words (`polytok.compress.text.words`). The LCS length uses the bit-parallel algorithm of
  Allison & Dix (1986) / Crochemore et al. (2001): one big-integer update per reference word, so
  whole documents compare in milliseconds.
* BERTScore (Zhang et al., 2020, eqs. 1-3): greedy cosine matching of contextual token
  embeddings, without IDF weighting or baseline rescaling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from polytok.compress.text import words


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

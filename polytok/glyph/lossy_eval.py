"""Fidelity of lossy mode, judged by an embedder other than the tape's own.

The tape's families live in WordLlama space (`polytok.embed.StaticEmbedder`); similarity of each
original line to its decoded expansion is measured with TF-IDF over character 2-4-grams fitted on
the training lines (Salton & Buckley, 1988), a different representation, so the tape cannot grade
itself. Numbers (digit runs) and names (capitalised words not starting a sentence) are counted as
preserved when they occur in the expansion.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+\b")


def entities(text: str) -> list[str]:
    """Numbers and names of ``text`` (see the module docstring)."""
    return _NUMBER.findall(text) + _NAME.findall(text)


def evaluate_lossy(
    tokenizer: Any, lines: Sequence[str], train_lines: Sequence[str]
) -> dict[str, Any]:
    """Lossy-mode token reduction and fidelity on held-out ``lines``.

    Args:
        tokenizer: a `HybridTokenizer` in lossy mode.
        lines: held-out lines, each encoded on its own.
        train_lines: lines to fit the independent TF-IDF judge on.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    judge = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit(list(train_lines))
    base_tokens = lossy_tokens = replaced = 0
    fidelities, judged, kept, total = [], [], 0, 0
    for line in lines:
        result = tokenizer.encode_hybrid(line, return_details=True)
        expanded, fidelity = tokenizer.decode_hybrid_with_expansion(result)
        base_tokens += len(tokenizer.base.encode(line))
        lossy_tokens += len(result.ids)
        fidelities.append(fidelity)
        if any(s.kind == "family" for s in result.spans):
            replaced += 1
            vectors = judge.transform([line, expanded])
            judged.append(float((vectors[0] @ vectors[1].T).toarray()[0, 0]))
            found = entities(line)  # only replaced lines can lose them
            total += len(found)
            kept += sum(e in expanded for e in found)
    return {
        "threshold": tokenizer.similarity_threshold,
        "lines": len(lines),
        "lines_replaced": replaced,
        "token_reduction": 1 - lossy_tokens / max(base_tokens, 1),
        "mean_fidelity_tape_embedder": float(np.mean(fidelities)) if fidelities else 1.0,
        "mean_similarity_independent_judge_replaced": float(np.mean(judged)) if judged else None,
        "numbers_and_names_in_replaced_lines": total,
        "numbers_and_names_preserved": kept / total if total else 1.0,
        "similarities": judged,
    }

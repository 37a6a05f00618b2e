"""Sentence boundaries: one splitter, with a named rule for each use.

polytok splits text into sentences in three places, and each keeps its own rule because the
measured figures depend on it (glyph tapes, compression budgets, the ACLSum sentence corpus):

- ``"line"`` (glyph tapes, `polytok.glyph.build`): every run of ``. ! ?`` ends a sentence, and so
  does a line break; abbreviations split ("Mr." ends one). Leading whitespace is trimmed, trailing
  whitespace before a line break kept (the hybrid tokenizer re-encodes it with the sentence).
- ``"prose"`` (extractive chunks, `polytok.compress.chunking`): a run of ``. ! ? …`` with closing
  quotes or brackets, followed by whitespace, or a CJK full stop; line breaks alone do not split.
- ``"capital"`` (paper paragraphs, `polytok.data.sentences`): ``. ! ?``, whitespace, then an
  upper-case letter or an opening bracket.

Every rule is a pattern whose matches are the sentences; `sentence_spans` trims them and drops
empty ones. Callers add their own policy (minimum words, maximum length, normalisation).
"""

from __future__ import annotations

from typing import NamedTuple

import regex


class SentenceRule(NamedTuple):
    """A sentence rule: each match of ``pattern`` is one sentence, before trimming."""

    pattern: regex.Pattern
    trim_end: bool  # also trim trailing whitespace (leading whitespace is always trimmed)


RULES: dict[str, SentenceRule] = {
    "line": SentenceRule(regex.compile(r"[^.!?\n]+[.!?]*"), trim_end=False),
    "prose": SentenceRule(
        regex.compile(r"(?s).*?(?:[.!?…]+[\"'”’)\]]*(?=\s)|[。！？]+[」』”’）]*|\Z)"), trim_end=True
    ),
    "capital": SentenceRule(regex.compile(r"(?s).*?(?:(?<=[.!?])(?=\s+[A-Z(\[])|\Z)"), True),
}


def sentence_spans(
    text: str, rule: str, start: int = 0, end: int | None = None
) -> list[tuple[int, int]]:
    """Character spans ``(s, e)`` of the sentences of ``text[start:end]`` under ``rule``.

    Args:
        text: the text; spans index into it.
        rule: a key of `RULES` ("line", "prose" or "capital"; see the module docstring).
        start, end: the part of ``text`` to split (default: all of it).

    Returns:
        Non-empty, trimmed, non-overlapping spans in text order.

    Raises:
        ValueError: an unknown rule.
    """
    if rule not in RULES:
        raise ValueError(f"unknown sentence rule {rule!r}; valid rules: {sorted(RULES)}")
    pattern, trim_end = RULES[rule]
    spans = []
    for m in pattern.finditer(text, start, len(text) if end is None else end):
        s, e = m.span()
        while s < e and text[s].isspace():
            s += 1
        while trim_end and e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            spans.append((s, e))
    return spans

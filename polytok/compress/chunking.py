"""Split a context into extractive chunks: sentences, whole fenced code blocks, whole list runs.

Chunks are character spans of the original text, so a compression is the kept spans joined by the
separators that preceded them in the original. Sentence boundaries follow the usual punkt-free
heuristic (Kiss & Strunk, 2006, describe the harder general problem): a terminator ``.!?…``
(plus closing quotes/brackets) followed by whitespace, or a CJK full stop ``。！？`` anywhere.
Fenced code blocks (```` ``` ```` / ``~~~``) and runs of list items are never split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import regex

from polytok.compress.text import words
from polytok.data.segment import sentence_spans

_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^[ \t]{0,3}(?:[-*+•]|\d{1,3}[.)])[ \t]+\S")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+\S")
_CLAUSE_END = regex.compile(r"[;:,，；：](?=\s)|\n")

KINDS = ("sentence", "code", "list", "heading")


@dataclass(frozen=True)
class Chunk:
    """One extractive unit.

    Attributes:
        start: offset of its first non-space character in the original.
        end: offset one past its last non-space character.
        kind: "sentence", "code", "list" or "heading".
        text: ``original[start:end]``.
    """

    start: int
    end: int
    kind: str
    text: str


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _lines(text: str) -> list[tuple[int, int, str]]:
    """(start, end, line) for each line, ``end`` including the newline."""
    out, pos = [], 0
    for line in text.splitlines(keepends=True):
        out.append((pos, pos + len(line), line))
        pos += len(line)
    return out


def _closes(line: str, marker: str) -> bool:
    """A closing fence: the same character, at least as long, nothing else on the line."""
    stripped = line.strip()
    return stripped.startswith(marker) and not stripped.strip(marker[0])


def _blocks(text: str) -> list[tuple[int, int, str]]:
    """Top-level blocks (start, end, kind) with kind in {"prose", "code", "list", "heading"}."""
    lines = _lines(text)
    blocks: list[tuple[int, int, str]] = []
    i = 0
    while i < len(lines):
        start, end, line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            marker = fence.group(1)
            j = i + 1
            while j < len(lines) and not _closes(lines[j][2], marker):
                j += 1
            j = min(j, len(lines) - 1)  # an unclosed fence runs to the end of the text
            blocks.append((start, lines[j][1], "code"))
            i = j + 1
        elif _LIST_ITEM.match(line):
            j = i + 1
            while j < len(lines):
                nxt = lines[j][2]
                if _LIST_ITEM.match(nxt) or (nxt[:1] in (" ", "\t") and nxt.strip()):
                    j += 1
                elif not nxt.strip() and j + 1 < len(lines) and _LIST_ITEM.match(lines[j + 1][2]):
                    j += 2  # a single blank line between items keeps the run (loose list)
                else:
                    break
            blocks.append((start, lines[j - 1][1], "list"))
            i = j
        elif _HEADING.match(line):
            blocks.append((start, end, "heading"))
            i += 1
        elif not line.strip():
            i += 1
        else:
            j = i + 1
            while j < len(lines):
                nxt = lines[j][2]
                if (
                    not nxt.strip()
                    or _FENCE.match(nxt)
                    or _LIST_ITEM.match(nxt)
                    or _HEADING.match(nxt)
                ):
                    break
                j += 1
            blocks.append((start, lines[j - 1][1], "prose"))
            i = j
    return blocks


def _split_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Split an over-long sentence at line breaks or clause marks, greedily up to ``max_chars``."""
    if end - start <= max_chars:
        return [(start, end)]
    cuts = [m.end() + start for m in _CLAUSE_END.finditer(text[start:end])]
    pieces, piece_start, last_ok = [], start, None
    for cut in [*cuts, end]:
        if cut - piece_start > max_chars and last_ok is not None:
            pieces.append((piece_start, last_ok))
            piece_start = last_ok
        last_ok = cut
    pieces.append((piece_start, end))
    return [span for s, e in pieces if (span := _trimmed(text, s, e))[1] > span[0]]


def _sentences(
    text: str, start: int, end: int, min_words: int, max_chars: int
) -> list[tuple[int, int]]:
    spans = sentence_spans(text, "prose", start, end)
    # attach fragments that are too short to stand alone ("Hor.", "Mr.", "Scene I.") to the next
    merged: list[tuple[int, int]] = []
    carry: int | None = None
    for s, e in spans:
        s = carry if carry is not None else s
        carry = None
        if len(words(text[s:e])) < min_words:
            carry = s
            continue
        merged.append((s, e))
    if carry is not None:
        if merged:
            merged[-1] = (merged[-1][0], spans[-1][1])
        else:
            merged.append((carry, spans[-1][1]))
    return [piece for s, e in merged for piece in _split_long(text, s, e, max_chars)]


def split_chunks(text: str, min_words: int = 3, max_chars: int = 600) -> list[Chunk]:
    """Split ``text`` into ordered, non-overlapping chunks.

    Args:
        text: the context.
        min_words: sentences with fewer words are attached to the following sentence of the same
            paragraph (speaker labels, abbreviations); CJK characters count as words.
        max_chars: sentences longer than this are split at line breaks or clause marks.

    Returns:
        Chunks in text order; ``text[c.start:c.end] == c.text``. Whitespace between chunks is the
        separator kept by the compressor.
    """
    if min_words < 1 or max_chars < 1:
        raise ValueError(f"min_words and max_chars must be >= 1, got {min_words}, {max_chars}")
    chunks: list[Chunk] = []
    for start, end, kind in _blocks(text):
        if kind == "prose":
            spans = _sentences(text, start, end, min_words, max_chars)
            chunks.extend(Chunk(s, e, "sentence", text[s:e]) for s, e in spans)
        else:
            s, e = _trimmed(text, start, end)
            if e > s:
                chunks.append(Chunk(s, e, kind, text[s:e]))
    return chunks


def separators(text: str, chunks: list[Chunk]) -> list[str]:
    """The original text between each chunk and the previous one (``""`` before the first)."""
    return ["" if i == 0 else text[chunks[i - 1].end : c.start] for i, c in enumerate(chunks)]

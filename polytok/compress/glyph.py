"""The lossless glyph option: count and encode with the hybrid (phrase-glyph) tokenizer.

A glyph tape (`polytok.glyph`) adds one id per frequent multi-word phrase on top of a base
tokenizer (SuperBPE-style lossless multi-word tokens, Liu et al., 2025), so ``decode(encode(t))
== t`` and a text costs fewer tokens. With a tape configured, the compressor counts its budget in
hybrid tokens and returns the hybrid ids with the compressed text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class GlyphEncoding:
    """The compressed text in hybrid glyph tokens.

    Attributes:
        ids: hybrid token ids of the text.
        tokens: ``len(ids)``.
        base_tokens: tokens of the same text in the base (model) tokenizer.
        lossless: ``decode(ids) == text`` was checked and holds.
        tape: path of the glyph tape.
    """

    ids: list[int]
    tokens: int
    base_tokens: int
    lossless: bool
    tape: str


class GlyphCounter:
    """Hybrid tokenizer over a model's base encoding and a glyph tape.

    Args:
        encoding: base tokenizer name (`polytok.tokenizers.get_tokenizer`), e.g. "o200k_base".
        tape: path of the glyph tape file.

    Raises:
        FileNotFoundError: the tape does not exist.
        ValueError: the encoding is unknown, or the tape was built on another base tokenizer.
    """

    def __init__(self, encoding: str, tape: str | Path) -> None:
        from polytok.glyph.hybrid import HybridTokenizer
        from polytok.tokenizers import get_tokenizer

        path = Path(tape)
        if not path.is_file():
            raise FileNotFoundError(
                f"glyph tape {str(path)!r} does not exist; build one with `polytok tape build` "
                "or unset glyph_tape"
            )
        self.base = get_tokenizer(encoding)
        self.hybrid = HybridTokenizer(base_tokenizer=encoding, tape=str(path))
        self.tape = str(path)
        self.name = f"hybrid:{encoding}+{path.name}"

    def count(self, text: str) -> int:
        """Hybrid tokens of ``text``."""
        return len(self.hybrid.encode(text))

    def count_many(self, texts: list[str]) -> list[int]:
        """Hybrid tokens of each text."""
        return [len(ids) for ids in self.hybrid.encode_batch(list(texts))]

    def encode(self, text: str) -> GlyphEncoding:
        """Encode ``text`` and check that it decodes back unchanged."""
        ids = self.hybrid.encode(text)
        return GlyphEncoding(
            ids=ids,
            tokens=len(ids),
            base_tokens=len(self.base.encode(text)),
            lossless=self.hybrid.decode(ids) == text,
            tape=self.tape,
        )

"""Character-level tokenizer: one id per Unicode code point seen in the training texts.

The classic char-level language-model setup (Karpathy, char-rnn / nanoGPT ``shakespeare_char``),
made safe for held-out text: characters not seen in training map to an ``<unk>`` id instead of
raising, since validation and test splits routinely contain characters the training split lacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from polytok.tokenizers.base import register_spec_type

PAD_ID = 0
UNK_ID = 1
EOS_ID = 2
NUM_SPECIALS = 3
UNK_TEXT = "\ufffd"  # what <unk> decodes to (the Unicode replacement character)


@register_spec_type("char")
class CharTokenizer:
    """Ids: ``0`` = ``<pad>``, ``1`` = ``<unk>``, ``2`` = ``<eos>``, then one id per character in
    sorted code-point order (so the same character set always gives the same ids).

    ``encode`` maps unseen characters to ``unk_id``; ``decode`` renders ``<unk>`` as U+FFFD and
    drops ``<pad>``/``<eos>`` (they carry no text). Round trips are exact for texts made of
    training characters. There is no bos token.

    Args:
        chars: the vocabulary characters, each exactly once.

    Raises:
        ValueError: ``chars`` repeats a character.
    """

    name = "char"

    def __init__(self, chars: str) -> None:
        if len(set(chars)) != len(chars):
            raise ValueError(
                f"CharTokenizer chars must be unique, got {len(chars)} chars with "
                f"{len(chars) - len(set(chars))} repeats; build it with CharTokenizer.train(texts)"
            )
        self.chars = "".join(sorted(chars))
        self._ids = {ch: i + NUM_SPECIALS for i, ch in enumerate(self.chars)}
        self._table = ["", UNK_TEXT, "", *self.chars]  # id -> text

    @classmethod
    def train(cls, texts: Iterable[str]) -> CharTokenizer:
        """The tokenizer whose vocabulary is every character occurring in ``texts``.

        Raises:
            ValueError: ``texts`` contain no characters at all.
        """
        seen: set[str] = set()
        for text in texts:
            seen.update(text)
        if not seen:
            raise ValueError(
                "cannot train a CharTokenizer on an empty corpus: the texts contain no characters"
            )
        return cls("".join(seen))

    @property
    def vocab_size(self) -> int:
        return len(self._table)

    @property
    def bos_id(self) -> int | None:
        return None

    @property
    def eos_id(self) -> int | None:
        return EOS_ID

    @property
    def pad_id(self) -> int | None:
        return PAD_ID

    @property
    def unk_id(self) -> int:
        return UNK_ID

    def encode(self, text: str) -> list[int]:
        """Text -> one id per character (unseen characters -> ``unk_id``)."""
        get = self._ids.get
        return [get(ch, UNK_ID) for ch in text]

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.encode(text) for text in texts]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text.

        Raises:
            ValueError: an id is outside ``[0, vocab_size)``.
        """
        table = self._table
        ids = [int(i) for i in ids]
        try:
            if ids and min(ids) < 0:
                raise IndexError
            return "".join([table[i] for i in ids])
        except IndexError:
            bad = [i for i in ids if not 0 <= i < len(table)]
            raise ValueError(
                f"ids must be ints in [0, {len(table)}) for this CharTokenizer, got {bad[:5]}"
            ) from None

    def to_spec(self) -> dict[str, Any]:
        return {"type": "char", "chars": self.chars}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> CharTokenizer:
        """Inverse of `to_spec`."""
        return cls(spec["chars"])

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"

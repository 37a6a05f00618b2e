"""`TextCodec`: text through a PolyTokenizer, registered tokens first, a base tokenizer for the rest.

Ids follow the Hugging Face "added tokens" convention: ids below the base vocabulary size are base
tokenizer ids; a registered token of the modality with token id ``k`` is ``base.vocab_size + k``.
Registered tokens are matched literally, longest first (like added tokens in HF tokenizers), so a
multi-word token such as ``"New York"`` becomes one id.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from polytok.poly.versions import VersionTable
from polytok.tokenizers.base import TextTokenizer


class TextCodec:
    """The base tokenizers of a registry and its ``encode`` / ``decode``.

    Args:
        vocab: the registry's `VersionTable` (read only: token ids per modality).
    """

    def __init__(self, vocab: VersionTable) -> None:
        self.vocab = vocab
        self._base: dict[str, TextTokenizer] = {}
        self._patterns: dict[str, tuple[int, re.Pattern | None]] = {}

    def register(self, modality: str, tokenizer: TextTokenizer) -> None:
        if not isinstance(tokenizer, TextTokenizer):
            raise TypeError(
                f"tokenizer must implement TextTokenizer, got {type(tokenizer).__name__}"
            )
        self._base[modality] = tokenizer

    def base(self, modality: str) -> TextTokenizer:
        if modality not in self._base:
            raise ValueError(f"no base tokenizer registered for {modality!r}; call register_base")
        return self._base[modality]

    def has_base(self, modality: str) -> bool:
        return modality in self._base

    def specs(self) -> dict[str, dict[str, Any]]:
        """``modality -> tokenizer spec`` of every base tokenizer (see `tokenizer_from_spec`)."""
        return {m: tok.to_spec() for m, tok in self._base.items()}

    def offset(self, modality: str) -> int:
        """The id of registered token 0: the base vocabulary size (0 without a base)."""
        return self._base[modality].vocab_size if modality in self._base else 0

    def _pattern(self, modality: str) -> re.Pattern | None:
        ids = self.vocab.ids(modality)
        cached = self._patterns.get(modality)
        if cached is not None and cached[0] == len(ids):  # token ids only grow
            return cached[1]
        words = sorted(ids, key=len, reverse=True)
        pattern = re.compile("|".join(map(re.escape, words))) if words else None
        self._patterns[modality] = (len(ids), pattern)
        return pattern

    def _encode_gap(self, piece: str, modality: str) -> list[int]:
        if not piece:
            return []
        if modality not in self._base:
            raise ValueError(
                f"{piece[:30]!r} is not a registered {modality!r} token and no base tokenizer is "
                f"registered for {modality!r}; call register_base(tokenizer, modality={modality!r})"
            )
        return self._base[modality].encode(piece)

    def encode(self, text: str, modality: str = "text") -> list[int]:
        """``text`` -> ids (registered tokens as ``base.vocab_size + token_id``)."""
        ids_of = self.vocab.ids(modality)
        offset = self.offset(modality)
        pattern = self._pattern(modality)
        ids: list[int] = []
        pos = 0
        if pattern is not None:
            for match in pattern.finditer(text):
                ids.extend(self._encode_gap(text[pos : match.start()], modality))
                ids.append(offset + ids_of[match.group()])
                pos = match.end()
        ids.extend(self._encode_gap(text[pos:], modality))
        return ids

    def names(self, modality: str) -> dict[int, str]:
        """``token id -> token`` of a modality."""
        return {i: t for t, i in self.vocab.ids(modality).items()}

    def decode(self, ids: Sequence[int], modality: str = "text") -> str:
        """Inverse of `encode` (exact when the base tokenizer round-trips)."""
        offset = self.offset(modality)
        names = self.names(modality)
        out: list[str] = []
        run: list[int] = []
        for i in ids:
            if i >= offset:
                if run:
                    out.append(self.base(modality).decode(run))
                    run = []
                if i - offset not in names:
                    raise ValueError(
                        f"id {i} is neither a base id (< {offset}) nor a registered token"
                    )
                out.append(names[i - offset])
            else:
                run.append(i)
        if run:
            out.append(self.base(modality).decode(run))
        return "".join(out)

"""Hugging Face ``tokenizers`` tokenizers loaded from a local directory, never from the hub.

`HFTokenizer` wraps a ``tokenizers.Tokenizer`` (the Rust library behind transformers' fast
tokenizers). Its spec stores the whole ``tokenizer.json`` string, so a Lightning checkpoint or a
``save_pretrained`` directory carries the tokenizer without pointing at a path that may move.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from polytok.tokenizers.base import register_spec_type

logger = logging.getLogger(__name__)

# Tried in order when no tokenizer_config.json / special_tokens_map.json names the token.
_CANDIDATES: dict[str, tuple[str, ...]] = {
    "bos_token": ("<s>", "<bos>", "<|begin_of_text|>", "<|startoftext|>", "[CLS]"),
    "eos_token": ("</s>", "<eos>", "<|endoftext|>", "<|end_of_text|>", "[SEP]"),
    "pad_token": ("<pad>", "[PAD]", "<|pad|>"),
}
_ROLES = tuple(_CANDIDATES)


def _token_content(value: Any) -> str | None:
    """transformers stores a special token as a string or as ``{"content": ...}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def _declared_special_tokens(directory: Path) -> dict[str, str | None]:
    """bos/eos/pad tokens declared by transformers' side files in ``directory``, if any."""
    found: dict[str, str | None] = {}
    for filename in ("special_tokens_map.json", "tokenizer_config.json"):
        path = directory / filename
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            logger.warning("ignoring %s: not valid JSON", path)
            continue
        if not isinstance(data, dict) or "spec" in data:  # a polytok config, not transformers'
            continue
        for role in _ROLES:
            if role in data and role not in found:
                found[role] = _token_content(data[role])
    return found


@register_spec_type("hf")
class HFTokenizer:
    """A `TextTokenizer` over a ``tokenizers.Tokenizer``.

    Choices: ``encode`` adds no template tokens (``add_special_tokens=False``: a language-model
    token stream marks document ends itself) and treats special-token strings in the text as
    plain text (``encode_special_tokens``), so corpus text cannot inject control tokens; ``decode``
    keeps special tokens. Truncation and padding stored in ``tokenizer.json`` are switched off, so
    ``encode`` never silently drops text. ``vocab_size`` is the largest id + 1, added tokens included.

    Args:
        tokenizer: the loaded tokenizer.
        name: a label for logs (the directory name for `from_dir`).
        bos_token, eos_token, pad_token: special token strings, or ``None`` when absent.

    Raises:
        ValueError: a given special token is not in the vocabulary.
    """

    spec_type = "hf"

    def __init__(
        self,
        tokenizer: Tokenizer,
        name: str = "hf",
        bos_token: str | None = None,
        eos_token: str | None = None,
        pad_token: str | None = None,
    ) -> None:
        tokenizer.no_truncation()
        tokenizer.no_padding()
        tokenizer.encode_special_tokens = True
        self.tokenizer = tokenizer
        self.name = name
        self._tokens = {"bos_token": bos_token, "eos_token": eos_token, "pad_token": pad_token}
        self._ids: dict[str, int | None] = {}
        for role, token in self._tokens.items():
            token_id = None if token is None else tokenizer.token_to_id(token)
            if token is not None and token_id is None:
                raise ValueError(
                    f"{role} {token!r} is not in the vocabulary of tokenizer {name!r}; "
                    f"pass an existing token or None"
                )
            self._ids[role] = token_id
        self._vocab_size = max(tokenizer.get_vocab(with_added_tokens=True).values()) + 1

    @classmethod
    def from_dir(cls, path: str | Path, **special_tokens: str | None) -> HFTokenizer:
        """Load ``path/tokenizer.json`` (local files only; nothing is downloaded).

        Special tokens come from ``special_tokens`` (``bos_token=...``, ``eos_token=...``,
        ``pad_token=...``), else from transformers' ``special_tokens_map.json`` /
        ``tokenizer_config.json`` in the directory, else from common names found in the
        vocabulary (``</s>``, ``<|endoftext|>``, ``<pad>``, ...).

        Raises:
            FileNotFoundError: ``path`` is not a directory or has no ``tokenizer.json``.
            ValueError: ``tokenizer.json`` cannot be parsed, or an unknown keyword is given.
        """
        unknown = sorted(set(special_tokens) - set(_ROLES))
        if unknown:
            raise ValueError(f"unknown keyword(s) {unknown}; valid: {', '.join(_ROLES)}")
        directory = Path(path).expanduser()
        if not directory.is_dir():
            raise FileNotFoundError(
                f"Hugging Face tokenizer directory {str(directory)!r} does not exist; give a local "
                "directory containing tokenizer.json (polytok never downloads from the hub)"
            )
        file = directory / "tokenizer.json"
        if not file.is_file():
            raise FileNotFoundError(
                f"{str(directory)!r} has no tokenizer.json (missing file: {file}); save one with "
                "tokenizer.save_pretrained(dir) from transformers or Tokenizer.save(path)"
            )
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{file} is not UTF-8 JSON text ({e}); it is not a tokenizer") from e
        try:
            tokenizer = Tokenizer.from_str(text)
        except Exception as e:  # the Rust parser raises a generic Exception
            raise ValueError(f"cannot parse {file}: {e}") from e
        declared = _declared_special_tokens(directory)
        chosen: dict[str, str | None] = {}
        for role in _ROLES:
            if role in special_tokens:
                chosen[role] = special_tokens[role]
            elif role in declared and (
                declared[role] is None or tokenizer.token_to_id(declared[role]) is not None
            ):
                chosen[role] = declared[role]
            else:
                chosen[role] = next(
                    (c for c in _CANDIDATES[role] if tokenizer.token_to_id(c) is not None), None
                )
        return cls(tokenizer, name=directory.resolve().name or "hf", **chosen)

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @property
    def bos_id(self) -> int | None:
        return self._ids["bos_token"]

    @property
    def eos_id(self) -> int | None:
        return self._ids["eos_token"]

    @property
    def pad_id(self) -> int | None:
        return self._ids["pad_token"]

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Encode many texts in parallel (the library's Rust thread pool)."""
        encodings = self.tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
        return [e.ids for e in encodings]

    def decode(self, ids: Iterable[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)

    def to_json(self) -> str:
        """The ``tokenizer.json`` content."""
        return self.tokenizer.to_str()

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": self.spec_type,
            "name": self.name,
            **self._tokens,
            "tokenizer_json": self.to_json(),
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> HFTokenizer:
        """Inverse of `to_spec`."""
        return cls(
            Tokenizer.from_str(spec["tokenizer_json"]),
            name=spec.get("name", cls.spec_type),
            **{role: spec.get(role) for role in _ROLES},
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, vocab_size={self.vocab_size})"

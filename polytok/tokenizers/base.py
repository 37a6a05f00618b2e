"""The `TextTokenizer` protocol every polytok tokenizer implements, and tokenizer specs.

A *spec* is a small JSON-able dict (``{"type": "char", ...}``) that fully describes a tokenizer,
so it can live in a Lightning checkpoint's hyperparameters (primitives only) and in a
``save_pretrained`` directory. ``tokenizer_from_spec`` rebuilds the tokenizer from the registry of
types that tokenizer classes join with `register_spec_type`, never from a class path in a file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable


@runtime_checkable
class TextTokenizer(Protocol):
    """What every tokenizer offers. Ids are dense ints in ``[0, vocab_size)``."""

    name: str

    @property
    def vocab_size(self) -> int: ...

    @property
    def bos_id(self) -> int | None: ...

    @property
    def eos_id(self) -> int | None: ...

    @property
    def pad_id(self) -> int | None: ...

    def encode(self, text: str) -> list[int]: ...

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]: ...

    def decode(self, ids: Iterable[int]) -> str: ...

    def to_spec(self) -> dict[str, Any]:
        """A JSON-able dict that `tokenizer_from_spec` turns back into an equal tokenizer."""
        ...


SpecFactory = Callable[[dict[str, Any]], TextTokenizer]

# spec "type" -> the factory that takes the spec dict. Filled by `register_spec_type` where each
# tokenizer class is defined; nothing here names a module. Checkpoints never name code.
SPEC_TYPES: dict[str, SpecFactory] = {}

T = TypeVar("T")


def register_spec_type(kind: str) -> Callable[[T], T]:
    """Class decorator: ``tokenizer_from_spec({"type": kind, ...})`` calls ``cls.from_spec``.

    Raises:
        ValueError: ``kind`` is already registered to another class.
    """

    def register(cls: T) -> T:
        factory = cls.from_spec  # type: ignore[attr-defined]
        known = SPEC_TYPES.get(kind)
        if known is not None and getattr(known, "__qualname__", None) != factory.__qualname__:
            raise ValueError(f"tokenizer spec type {kind!r} is already registered to {known}")
        SPEC_TYPES[kind] = factory
        return cls

    return register


def tokenizer_from_spec(spec: dict[str, Any]) -> TextTokenizer:
    """Rebuild a tokenizer from the dict its ``to_spec()`` returned.

    Raises:
        ValueError: the spec has no ``type`` or an unknown one (the known types are listed).
    """
    if not isinstance(spec, dict) or "type" not in spec:
        raise ValueError(f"tokenizer spec must be a dict with a 'type' key, got {spec!r}")
    kind = spec["type"]
    if not isinstance(kind, str) or kind not in SPEC_TYPES:
        raise ValueError(
            f"unknown tokenizer spec type {kind!r}; known types: {sorted(SPEC_TYPES)}. A type "
            "registers when the module defining it is imported (`import polytok.catalog` "
            "registers every built-in type)"
        )
    builder = SPEC_TYPES[kind]
    try:
        return builder(spec)
    except (FileNotFoundError, ValueError):
        raise
    except Exception as err:  # a missing key, a wrong type, the HF parser's bare Exception
        raise ValueError(
            f"invalid {kind!r} tokenizer spec ({type(err).__name__}: {err}); the file or "
            "checkpoint holding it is corrupt or was edited"
        ) from err


def tokenizer_fingerprint(tokenizer: TextTokenizer) -> str:
    """A short stable hash of the tokenizer's spec: equal specs give equal fingerprints.

    A tokenizer whose spec names an external file (a glyph tape) provides ``content_fingerprint``
    instead, a string derived from that file's content, so a file rebuilt at the same path gets
    a new fingerprint (and token caches keyed by it are rebuilt).
    """
    content = getattr(tokenizer, "content_fingerprint", None)
    blob = (
        content.encode()
        if isinstance(content, str)
        else json.dumps(tokenizer.to_spec(), sort_keys=True, ensure_ascii=False).encode()
    )
    return hashlib.blake2b(blob, digest_size=8).hexdigest()

"""`TextSource`: a corpus as documents per split, and the key check every source loader uses."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from polytok.data.splits import SPLITS, validate_split

# Bump when the way documents are produced changes, so cached token ids are rebuilt.
SOURCE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class TextSource:
    """A corpus as documents per split.

    Attributes:
        name: the source kind (``"shakespeare"``, ``"dialog"``, ``"files"``).
        spec: the normalised spec (defaults filled in, JSON-able); `load_source` rebuilds it.
        splits: ``{"train": (doc, ...), "val": (...), "test": (...)}``; documents are whole plays,
            conversations or files (or contiguous pieces, for fraction splits).
    """

    name: str
    spec: dict[str, Any]
    splits: Mapping[str, tuple[str, ...]] = field(repr=False)

    def __post_init__(self) -> None:
        if set(self.splits) != set(SPLITS):
            raise ValueError(f"splits must be exactly {list(SPLITS)}, got {sorted(self.splits)}")
        if not any(doc.strip() for docs in self.splits.values() for doc in docs):
            raise ValueError(
                f"the {self.name!r} source is empty (spec {self.spec!r}): no non-blank text in any "
                "split; point it at files with text or pick another corpus"
            )

    def documents(self, split: str) -> list[str]:
        """The documents of ``split`` (``"train"``, ``"val"`` or ``"test"``), in a fixed order."""
        return list(self.splits[validate_split(split)])

    def iter_lines(self, split: str) -> Iterator[str]:
        """Non-blank lines of every document of ``split``, right-stripped, in order."""
        for doc in self.splits[validate_split(split)]:
            for line in doc.splitlines():
                if line.strip():
                    yield line.rstrip()

    def num_bytes(self, split: str) -> int:
        """UTF-8 bytes of the documents of ``split`` (separators between documents excluded)."""
        return sum(len(doc.encode("utf-8")) for doc in self.splits[validate_split(split)])

    @cached_property
    def fingerprint(self) -> str:
        """blake2b of the spec, the format version and every document of every split (hex, 32)."""
        h = hashlib.blake2b(digest_size=16)
        h.update(json.dumps(self.spec, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        h.update(f"|v{SOURCE_FORMAT_VERSION}".encode())
        for split in SPLITS:
            h.update(f"|{split}:{len(self.splits[split])}".encode())
            for doc in self.splits[split]:
                data = doc.encode("utf-8")
                h.update(len(data).to_bytes(8, "little"))
                h.update(data)
        return h.hexdigest()

    def __repr__(self) -> str:
        counts = {s: len(self.splits[s]) for s in SPLITS}
        return f"TextSource(name={self.name!r}, documents={counts}, fingerprint={self.fingerprint[:12]})"


def check_keys(spec: Mapping[str, Any], allowed: Sequence[str]) -> None:
    """Reject unknown spec keys.

    Raises:
        ValueError: a key outside ``allowed`` (the allowed keys are listed).
    """
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown key(s) {unknown} in {spec.get('name')!r} source spec {dict(spec)!r}; "
            f"allowed keys: {sorted(allowed)}"
        )

"""Text corpora and token streams.

``import polytok.data`` stays light: `TokenStreamDataModule` (which needs lightning) is imported
on first access through the module ``__getattr__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from polytok.data.sources import TextSource, load_source
from polytok.data.splits import SPLITS

if TYPE_CHECKING:
    from polytok.data.token_stream import TokenStreamDataModule

__all__ = ["SPLITS", "TextSource", "TokenStreamDataModule", "load_source"]


def __getattr__(name: str) -> Any:
    if name == "TokenStreamDataModule":
        from polytok.data.token_stream import TokenStreamDataModule

        return TokenStreamDataModule
    raise AttributeError(f"module 'polytok.data' has no attribute {name!r}")

"""Text corpora: `load_source` turns a small spec into a `TextSource` (documents per split).

No torch, lightning or hydra here; the token streams built on these corpora for training
(`TokenStreamDataModule`) are in `polytok.systems`.
"""

from __future__ import annotations

from polytok.data.sources import TextSource, load_source
from polytok.data.splits import SPLITS

__all__ = ["SPLITS", "TextSource", "load_source"]

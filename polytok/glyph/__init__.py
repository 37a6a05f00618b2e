"""Glyph tapes: lossless superword glyphs over a base tokenizer, with hierarchical addresses.

* `build_tape` / `TapeBuildConfig` — mine glyphs on a corpus and write a SQLite `GlyphTape`;
* `HybridTokenizer` — base tokenizer + tape, one id per glyph, lossless by default;
* `GlyphGPT2` (``polytok.glyph.adapter``) — GPT-2 with the vocabulary extended by the glyphs;
* ``polytok.tasks.context_efficiency`` (task layer) — ``python eval.py experiment=context_efficiency``.

Importing this package imports neither lightning nor hydra.
"""

from polytok.glyph.build import TapeBuildConfig, build_tape
from polytok.glyph.hybrid import GlyphSpan, HybridEncoding, HybridTokenizer
from polytok.glyph.mining import MinedGlyph, mine_merges
from polytok.glyph.tape import Family, Glyph, GlyphTape, TapeError

__all__ = [
    "Family",
    "Glyph",
    "GlyphSpan",
    "GlyphTape",
    "HybridEncoding",
    "HybridTokenizer",
    "MinedGlyph",
    "TapeBuildConfig",
    "TapeError",
    "build_tape",
    "mine_merges",
]

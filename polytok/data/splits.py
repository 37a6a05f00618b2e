"""Deterministic train/val/test splits: by stable hash of an item key, or by fraction of a text.

Splits never use Python's salted ``hash()``: a key (a file name, ``"english/ai:3"``) is hashed with
blake2b and mapped to a point in ``[0, 1)``; the point falls into the ``train``, ``val`` or ``test``
interval given by the split fractions. Adding an item never moves another item to a different
split, which keeps held-out data held out as a corpus grows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

SPLITS: tuple[str, str, str] = ("train", "val", "test")


def validate_split(split: str) -> str:
    """Return ``split`` if it is one of `SPLITS`.

    Raises:
        ValueError: any other value (the valid names are listed).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {list(SPLITS)}")
    return split


def validate_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Check ``(train, val, test)`` fractions: three positive numbers summing to 1.

    Raises:
        ValueError: wrong length, a non-positive entry, or a sum other than 1.
    """
    values = tuple(float(f) for f in fractions)
    if len(values) != 3 or any(f <= 0 for f in values) or abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(
            f"split fractions must be three positive numbers (train, val, test) summing to 1, "
            f"got {list(fractions)!r}; e.g. [0.8, 0.1, 0.1]"
        )
    return values  # type: ignore[return-value]


def stable_unit(key: str) -> float:
    """Map ``key`` to a point in ``[0, 1)`` with blake2b (same value in every process and run)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def assign_by_hash(
    keys: Sequence[str], fractions: Sequence[float] = (0.8, 0.1, 0.1)
) -> dict[str, list[int]]:
    """Assign each key to a split by its stable hash.

    A key whose point ``u = stable_unit(key)`` lies below ``fractions[0]`` is train, below
    ``fractions[0] + fractions[1]`` val, else test. With at least three keys every split is made
    non-empty: an empty split takes the key closest to its interval from the largest split, so the
    repair is deterministic too.

    Args:
        keys: unique item keys (their order only fixes the order of the returned indices).
        fractions: ``(train, val, test)``, positive, summing to 1.

    Returns:
        ``{"train": [indices...], "val": [...], "test": [...]}``, indices into ``keys`` ascending.
    """
    train_f, val_f, _ = validate_fractions(fractions)
    bounds = {
        "train": (0.0, train_f),
        "val": (train_f, train_f + val_f),
        "test": (train_f + val_f, 1.0),
    }
    points = [stable_unit(k) for k in keys]
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    for i, u in enumerate(points):
        split = "train" if u < bounds["train"][1] else "val" if u < bounds["val"][1] else "test"
        out[split].append(i)
    if len(keys) >= 3:
        for split in SPLITS:
            if out[split]:
                continue
            lo, hi = bounds[split]
            centre = (lo + hi) / 2
            donor = max(SPLITS, key=lambda s: (len(out[s]), s == "train"))
            moved = min(out[donor], key=lambda i: (abs(points[i] - centre), i))
            out[donor].remove(moved)
            out[split].append(moved)
    return {s: sorted(v) for s, v in out.items()}


def split_text_by_fraction(
    text: str, fractions: Sequence[float] = (0.9, 0.05, 0.05)
) -> dict[str, str]:
    """Cut one text into contiguous train / val / test pieces (nanoGPT style: train first).

    Each cut is placed at the exact fraction of the characters, then moved back to the start of
    the line it falls in when that keeps the previous piece non-empty, so lines are not split.

    Args:
        text: the whole corpus.
        fractions: ``(train, val, test)`` shares of the characters.

    Returns:
        ``{"train": text[:a], "val": text[a:b], "test": text[b:]}``.
    """
    train_f, val_f, _ = validate_fractions(fractions)
    n = len(text)
    cuts = []
    previous = 0
    for frac in (train_f, train_f + val_f):
        pos = max(previous, min(n, int(round(frac * n))))
        newline = text.rfind("\n", previous, pos)
        if newline + 1 > previous:
            pos = newline + 1
        cuts.append(pos)
        previous = pos
    a, b = cuts
    return {"train": text[:a], "val": text[a:b], "test": text[b:]}

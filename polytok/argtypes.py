"""argparse ``type=`` converters shared by the subsystem command lines (clear messages)."""

from __future__ import annotations

import argparse

__all__ = ["byte_size", "positive_int"]


def positive_int(text: str) -> int:
    """An integer > 0 (``--top``, ``--glyphs``, ``--pairs``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def byte_size(text: str) -> int:
    """A byte count such as ``1048576``, ``64K``, ``64M`` or ``2G`` (> 0)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    factor = units.get(text[-1:].upper(), 1)
    number = text[:-1] if factor > 1 else text
    try:
        value = int(number) * factor
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size like 64M or 2G, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"the size must be positive, got {text!r}")
    return value

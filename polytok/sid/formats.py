"""String forms of semantic codes: plain (``"3-9-1"``), token (``"<a_3><b_9><c_1>"``), custom.

The token format is the one generative retrieval feeds to a language model (TIGER, Rajput et al.,
2023): one token per level, the level named by a letter, so ``<a_3>`` and ``<b_3>`` are different
tokens. Letters wrap around after 26 levels (level 26 is ``a`` again, as in the semantic-id
library), so 27+ level codes reuse level tokens; positions still keep IDs unambiguous.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence

import numpy as np
import torch

FORMATS = ("plain", "token")
LETTERS = string.ascii_lowercase

Formatter = Callable[[Sequence[int]], str]


def level_letter(level: int) -> str:
    """Letter naming ``level`` in the token format: a, b, ..., z, then a again."""
    return LETTERS[level % len(LETTERS)]


def token_id(row: Sequence[int], start_level: int = 0) -> str:
    """``[3, 9, 1]`` -> ``"<a_3><b_9><c_1>"`` (levels counted from ``start_level``)."""
    return "".join(f"<{level_letter(start_level + i)}_{int(c)}>" for i, c in enumerate(row))


def check_format(fmt: str, sep: str, formatter: Formatter | None) -> None:
    """Validate a format choice.

    Raises:
        ValueError: unknown ``fmt``; an empty ``sep`` or one holding a digit in the plain format
            (``"12" + "1"`` could not be told from ``"1" + "21"``).
        TypeError: ``formatter`` is not callable.
    """
    if formatter is not None:
        if not callable(formatter):
            raise TypeError(f"formatter must be a callable row -> str, got {type(formatter)}")
        return
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if fmt == "plain" and (not sep or any(ch.isdigit() for ch in sep)):
        raise ValueError(
            f"sep must be a non-empty string without digits, got {sep!r}: with it, different "
            "codes could give the same ID; use '-' (default), '_' or '/'"
        )


def codes_to_ids(
    codes, sep: str = "-", fmt: str = "plain", formatter: Formatter | None = None
) -> list[str]:
    """(N, L) integer codes -> N strings.

    Args:
        codes: (N, L) array, tensor or nested list of ints.
        sep: separator of the plain format.
        fmt: "plain" (``"3-9-1"``) or "token" (``"<a_3><b_9><c_1>"``).
        formatter: a callable row (list of L ints) -> str; overrides ``fmt``.
    """
    check_format(fmt, sep, formatter)
    rows = codes.tolist() if isinstance(codes, torch.Tensor | np.ndarray) else codes
    if formatter is not None:
        return [str(formatter([int(c) for c in row])) for row in rows]
    if fmt == "token":
        return [token_id(row) for row in rows]
    return [sep.join(str(int(c)) for c in row) for row in rows]

"""What a unique-ID store serves: the ID layout, separator, style and model, checked per batch.

Unique IDs are unique by construction only when every ID in a store has the same shape: with
3-level codes, the suffixed ID ``1-2-3-1`` (the 2nd item on ``1-2-3``) has four parts and can
never equal a code, which always has three. A store that also took 4-level codes could hand out
``1-2-3-1`` twice (reliability case B4), and an empty separator turns ``12`` + ``1`` into ``121``,
the code of another item. So a store records, on first use, the layout of the semantic IDs it
serves (``plain:<levels>``, ``token:<levels>`` or ``opaque``), the separator, the style and,
when the caller names it, the model; a later batch that differs is refused with a ValueError.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from polytok.sid.formats import level_letter

_TOKEN = re.compile(r"(?:<[a-z]_\d+>)+")
_TOKEN_PART = re.compile(r"<[a-z]_\d+>")


def check_sep(sep: str) -> None:
    """A separator must be non-empty and hold no digit or token characters."""
    if not isinstance(sep, str) or not sep or any(ch.isdigit() or ch in "<>\0" for ch in sep):
        raise ValueError(
            f"sep must be a non-empty string without digits or '<>', got {sep!r}: otherwise a "
            "suffixed ID can equal another item's code (e.g. '12' + '1' = '121'); use '-'"
        )


def layout_of(semantic_ids: Sequence[str], sep: str) -> str:
    """``"plain:L"``, ``"token:L"`` or ``"opaque"`` for a batch of semantic IDs.

    Raises:
        ValueError: the batch mixes layouts or level counts, or an opaque ID contains ``sep``.
    """
    fast = _plain_levels(semantic_ids, sep)
    if fast is not None:
        return fast
    plain = re.compile(rf"\d+(?:{re.escape(sep)}\d+)*")
    layouts = set()
    for sid in semantic_ids:
        if plain.fullmatch(sid):
            layouts.add(f"plain:{sid.count(sep) + 1}")
        elif _TOKEN.fullmatch(sid):
            layouts.add(f"token:{len(_TOKEN_PART.findall(sid))}")
        elif sep in sid:
            raise ValueError(
                f"semantic ID {sid!r} contains the separator {sep!r} but is not a plain code; "
                "a suffix could not be told apart from the ID; choose another sep"
            )
        else:
            layouts.add("opaque")
        if len(layouts) > 1:
            raise ValueError(
                f"one batch mixes semantic IDs of layouts {sorted(layouts)} (e.g. codes with "
                "different level counts); a store serves one model: use one store per model"
            )
    return layouts.pop() if layouts else "opaque"


def _plain_levels(semantic_ids: Sequence[str], sep: str) -> str | None:
    """``"plain:L"`` when every ID is L digit groups joined by ``sep`` (checked in a few C-level
    string passes: ~20x faster than a regex per ID); None when some ID is not plain."""
    if not semantic_ids:
        return None
    joined = "\0".join(semantic_ids)
    bounds = ("\0\0", sep + sep, "\0" + sep, sep + "\0")
    if (
        not joined.replace(sep, "").replace("\0", "").isdigit()
        or any(b in joined for b in bounds)
        or joined.startswith((sep, "\0"))
        or joined.endswith((sep, "\0"))
    ):
        return None
    counts = {sid.count(sep) for sid in semantic_ids}
    if len(counts) > 1:
        raise ValueError(
            f"one batch mixes semantic IDs of {sorted(c + 1 for c in counts)} levels; a store "
            "serves one model: use one store per model"
        )
    return f"plain:{counts.pop() + 1}"


def suffixed(code: str, n: int, layout: str, sep: str) -> str:
    """``code`` with collision counter ``n``: a token one level down, else ``sep`` + ``n``."""
    if layout.startswith("token:"):
        return f"{code}<{level_letter(int(layout.split(':')[1]))}_{n}>"
    return f"{code}{sep}{n}"


def check_binding(recorded: dict, wanted: dict, where: str) -> dict:
    """The settings to record after comparing ``wanted`` with what the store ``recorded``.

    Raises:
        ValueError: a recorded setting differs (the message says which and how to fix it).
    """
    merged = dict(recorded)
    for name, value in wanted.items():
        if value is None:
            continue
        old = recorded.get(name)
        if old is None:
            merged[name] = value
        elif old != value:
            raise ValueError(
                f"{where} serves {name}={old!r}, this batch has {name}={value!r}; unique IDs are "
                f"only unique within one layout and model: use a new store for this one"
            )
    return merged

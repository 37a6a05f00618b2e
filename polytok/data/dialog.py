"""Multilingual dialogs from the offline ``chatterbot-corpus`` package.

Each ``chatterbot_corpus/data/<language>/<topic>.yml`` holds ``conversations``: a list of
conversations, each a list of lines. A conversation becomes one document, its lines joined by
``"\\n"``. A few entries in the package are a bare string instead of a list (a YAML slip); they are
kept as one-line conversations. Splits are 80/10/10 by a stable blake2b hash of
``"<language>/<topic>:<index>"``, so a conversation never changes split when others are added.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from polytok.assets import named_asset_dir
from polytok.data.splits import SPLITS, assign_by_hash
from polytok.data.text_source import TextSource, check_keys

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _data_dir() -> Path:
    return named_asset_dir("chatterbot_corpus")


def available_languages() -> list[str]:
    """Languages shipped by chatterbot-corpus (directory names, e.g. ``"english"``), sorted."""
    return sorted(p.name for p in _data_dir().iterdir() if p.is_dir() and any(p.glob("*.yml")))


def _conversation_text(conversation: Any) -> str:
    if isinstance(conversation, str):
        lines = [conversation]
    elif isinstance(conversation, list):
        lines = [str(x) for x in conversation if x is not None]
    else:
        return ""
    return "\n".join(line.strip() for line in lines if str(line).strip())


@lru_cache(maxsize=64)
def _language_conversations(language: str) -> tuple[tuple[str, str], ...]:
    """``((key, text), ...)`` for every non-empty conversation of ``language``."""
    out = []
    for path in sorted((_data_dir() / language).glob("*.yml")):
        with open(path, encoding="utf-8") as f:
            data = yaml.load(f, Loader=_Loader)
        conversations = data.get("conversations") if isinstance(data, dict) else None
        for index, conversation in enumerate(conversations or []):
            text = _conversation_text(conversation)
            if text:
                out.append((f"{language}/{path.stem}:{index}", text))
    return tuple(out)


def load_dialog(spec: Mapping[str, Any]) -> TextSource:
    """The dialog `TextSource`.

    Args:
        spec: ``{"name": "dialog", "language": "english" | ... | "all"}``; ``language`` may also
            be a list of languages. ``"all"`` reads every language in sorted order.

    Raises:
        ValueError: an unknown language (the available languages are listed), unknown keys.
        polytok.assets.AssetNotFoundError: chatterbot-corpus is not installed.
    """
    check_keys(spec, ("name", "language"))
    language = spec.get("language", "english")
    available = available_languages()
    if language == "all":
        languages = available
    else:
        languages = [language] if isinstance(language, str) else [str(x) for x in language]
        unknown = [lang for lang in languages if lang not in available]
        if unknown or not languages:
            raise ValueError(
                f"unknown dialog language(s) {unknown or languages!r}; available languages: "
                f"{', '.join(available)} (or 'all')"
            )
    items = [item for lang in languages for item in _language_conversations(lang)]
    assigned = assign_by_hash([key for key, _ in items], (0.8, 0.1, 0.1))
    splits = {s: tuple(items[i][1] for i in assigned[s]) for s in SPLITS}
    norm = {"name": "dialog", "language": language if isinstance(language, str) else languages}
    return TextSource("dialog", norm, splits)

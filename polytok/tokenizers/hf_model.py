"""The tokenizer of a local Hugging Face model directory: ``tokenizer=hf_model tokenizer.path=DIR``.

When the directory's tokenizer is GPT-2's byte-level BPE (the same vocabulary and merges as the
``vocab.bpe`` / ``encoder.json`` that tiktoken's ``gpt2`` is built from, and the same ids on a probe
text), the offline tiktoken ``gpt2`` encoding is returned: identical ids, several times faster,
and the base that glyph tapes over ``gpt2`` are built on. Any other tokenizer loads as an
`HFTokenizer` from the directory's ``tokenizer.json``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from polytok.tokenizers.base import TextTokenizer
from polytok.tokenizers.factory import get_tokenizer, register_builder
from polytok.tokenizers.hf import HFTokenizer

logger = logging.getLogger(__name__)

# ids must agree on this (spaces, digits, apostrophes, newlines, non-Latin, emoji)
PROBE = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n  All: Speak, speak!"
    " It's 2024's 12,345 items;  tabs\tand  CAPS. Ünïcödé 中文 日本語 🙂 naïve café\n"
)


def _gpt2_merges() -> list[str]:
    from polytok.assets import ASSETS

    lines = ASSETS["gpt2_vocab_bpe"].read_bytes().decode("utf-8").split("\n")
    return [ln for ln in lines if ln and not ln.startswith("#version")]


def _dir_vocab_merges(directory: Path) -> tuple[dict[str, int], list[str]] | None:
    """(vocab, merges as "a b" strings) of a BPE tokenizer directory, or None when not BPE."""
    file = directory / "tokenizer.json"
    if file.is_file():
        model = json.loads(file.read_text(encoding="utf-8")).get("model", {})
        if model.get("type") != "BPE":
            return None
        merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
        return dict(model.get("vocab", {})), merges
    vocab, merges = directory / "vocab.json", directory / "merges.txt"
    if vocab.is_file() and merges.is_file():
        lines = merges.read_text(encoding="utf-8").split("\n")
        return json.loads(vocab.read_text(encoding="utf-8")), [
            ln for ln in lines if ln and not ln.startswith("#version")
        ]
    return None


def is_gpt2_tokenizer(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` holds GPT-2's tokenizer: same vocabulary, merges and probe ids."""
    from polytok.assets import ASSETS

    directory = Path(directory)
    found = _dir_vocab_merges(directory)
    if found is None:
        return False
    vocab, merges = found
    if vocab != json.loads(ASSETS["gpt2_encoder_json"].read_bytes()) or merges != _gpt2_merges():
        return False
    if not (directory / "tokenizer.json").is_file():
        return True  # vocab.json + merges.txt are GPT-2's own files: the slow tokenizer is GPT-2

    return HFTokenizer.from_dir(directory).encode(PROBE) == get_tokenizer("gpt2").encode(PROBE)


def model_tokenizer(directory: str | os.PathLike) -> TextTokenizer:
    """The tokenizer saved with a model: offline ``gpt2`` when the ids are GPT-2's, else `HFTokenizer`.

    Raises:
        FileNotFoundError: the directory does not exist or holds no tokenizer files.
    """
    directory = Path(os.path.expanduser(str(directory)))
    if not directory.is_dir():
        raise FileNotFoundError(
            f"tokenizer directory {str(directory)!r} does not exist; pass the local model "
            "directory (tokenizer.path=DIR)"
        )
    if is_gpt2_tokenizer(directory):
        logger.info("%s holds GPT-2's tokenizer: using the offline tiktoken 'gpt2'", directory)
        return get_tokenizer("gpt2")
    if not (directory / "tokenizer.json").is_file():
        raise FileNotFoundError(
            f"{str(directory)!r} holds no tokenizer.json (nor GPT-2's vocab.json + merges.txt); "
            "save the model's tokenizer there (tokenizer.save_pretrained(DIR)) or pick a "
            "tokenizer explicitly (tokenizer=gpt2 when the model uses GPT-2's ids)"
        )
    return HFTokenizer.from_dir(directory)


@register_builder("hf_model", {"path": None})
def _build_hf_model(options: dict[str, Any], texts: Any) -> TextTokenizer:
    return from_config(options)


def from_config(options: dict[str, Any]) -> TextTokenizer:
    """``{path: DIR}`` -> `model_tokenizer` (the ``hf_model`` tokenizer config)."""
    if not options.get("path"):
        raise ValueError(
            "tokenizer 'hf_model' needs the model directory: set tokenizer.path=DIR "
            "(experiments set it to ${model.path})"
        )
    return model_tokenizer(options["path"])

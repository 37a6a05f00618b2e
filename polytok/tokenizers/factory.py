"""Named tokenizers and the ``tokenizer`` config -> tokenizer factory used by training.

``get_tokenizer(name)`` returns a ready tokenizer for the named tiktoken encodings;
``build_tokenizer(cfg, texts)`` also trains char / byte-BPE vocabularies and loads local Hugging
Face directories, as described in ``docs/architecture.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from polytok.tokenizers.base import TextTokenizer
from polytok.tokenizers.tiktoken_offline import TIKTOKEN_NAMES, TiktokenTokenizer

# config name -> the keys it accepts besides "name" (with their defaults)
BUILDABLE: dict[str, dict[str, Any]] = {
    "char": {},
    "bpe": {"vocab_size": 2048, "min_frequency": 2},
    "hf": {"path": None},
    "hf_model": {"path": None},
    "prime": {"base": {"name": "char"}},
    "hybrid": {
        "base": "cl100k_base",
        "tape": None,
        "glyphs": 4096,
        "unit": "document",
        "families": 0,
        "mode": "lossless",
        "similarity_threshold": 0.75,
        "version": None,
    },
    **{name: {} for name in TIKTOKEN_NAMES},
}

Texts = Iterable[str] | Callable[[], Iterable[str]]


def available_tokenizers() -> list[str]:
    """Names `get_tokenizer` accepts (the offline tiktoken encodings)."""
    return list(TIKTOKEN_NAMES)


def get_tokenizer(name: str) -> TiktokenTokenizer:
    """A named, ready-to-use tokenizer: ``gpt2`` (= ``r50k_base``), ``p50k_base``,
    ``cl100k_base`` or ``o200k_base``, built offline (see `TiktokenTokenizer`).

    Raises:
        ValueError: unknown name; the message lists the valid names (and points to
            `build_tokenizer` for trained ``char`` / ``bpe`` and local ``hf`` tokenizers).
    """
    if name not in TIKTOKEN_NAMES:
        hint = ""
        if name in BUILDABLE:
            hint = f" ({name!r} needs training data or a path: use build_tokenizer({{'name': {name!r}, ...}}, texts))"
        raise ValueError(
            f"unknown tokenizer name {name!r}; valid names: {', '.join(TIKTOKEN_NAMES)}{hint}"
        )
    return TiktokenTokenizer(name)


def build_tokenizer(cfg: Mapping[str, Any], texts: Texts | None = None) -> TextTokenizer:
    """Turn a ``tokenizer`` config into a tokenizer, training it on ``texts`` when needed.

    Accepted configs: ``{name: char}``, ``{name: bpe, vocab_size: 2048, min_frequency: 2}``,
    ``{name: <tiktoken name>}``, ``{name: hf, path: DIR}``, ``{name: prime, base: {...}}``
    (`polytok.reso.PrimeTokenizer`) and ``{name: hybrid, base, tape, ...}``
    (`polytok.glyph.HybridTokenizer`). ``texts`` (training documents, or a
    zero-argument callable returning them, so that they are only read when training is needed) is
    required for ``char`` and ``bpe`` and ignored otherwise.

    Raises:
        ValueError: missing or unknown ``name`` (valid names listed), unknown keys for that name
            (valid keys listed), a missing ``hf`` path, or no ``texts`` for a trained tokenizer.
    """
    if not isinstance(cfg, Mapping) or "name" not in cfg:
        raise ValueError(
            f"tokenizer config must be a mapping with a 'name' key, got {cfg!r}; "
            f"valid names: {', '.join(BUILDABLE)}"
        )
    name = cfg["name"]
    if name not in BUILDABLE:
        raise ValueError(f"unknown tokenizer name {name!r}; valid names: {', '.join(BUILDABLE)}")
    options = {k: v for k, v in cfg.items() if k != "name"}
    unknown = sorted(set(options) - set(BUILDABLE[name]))
    if unknown:
        valid = ["name", *BUILDABLE[name]]
        raise ValueError(
            f"unknown key(s) {unknown} for tokenizer {name!r}; valid keys: {', '.join(valid)}"
        )
    options = {**BUILDABLE[name], **options}

    if name in TIKTOKEN_NAMES:
        return TiktokenTokenizer(name)
    if name == "hf":
        if not options["path"]:
            raise ValueError(
                "tokenizer 'hf' needs a local directory holding tokenizer.json: "
                "set tokenizer.path=/path/to/dir"
            )
        from polytok.tokenizers.hf import HFTokenizer

        return HFTokenizer.from_dir(options["path"])
    if name == "hf_model":  # a model directory's tokenizer (offline gpt2 when the ids agree)
        from polytok.tokenizers.hf_model import from_config

        return from_config(options)
    if name == "hybrid":  # loads its tape, or mines one on ``texts`` when the file is missing
        from polytok.glyph.hybrid import HybridTokenizer

        return HybridTokenizer.from_config(options, texts)
    if texts is None:
        raise ValueError(f"tokenizer {name!r} is trained on the corpus: pass its training texts")
    documents = texts() if callable(texts) else texts
    if name == "prime":  # dense ids <-> primes over any base tokenizer (ResoFormer)
        from polytok.reso.primes import PrimeTokenizer

        return PrimeTokenizer.train(documents, base=options["base"])
    if name == "char":
        from polytok.tokenizers.char import CharTokenizer

        return CharTokenizer.train(documents)
    from polytok.tokenizers.bpe import ByteBPETokenizer

    return ByteBPETokenizer.train(
        documents,
        vocab_size=int(options["vocab_size"]),
        min_frequency=int(options["min_frequency"]),
    )

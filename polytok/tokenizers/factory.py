"""Named tokenizers and the ``tokenizer`` config -> tokenizer factory used by training.

``get_tokenizer(name)`` returns a ready tokenizer for the named tiktoken encodings;
``build_tokenizer(cfg, texts)`` also trains char / byte-BPE vocabularies and loads local Hugging
Face directories, as described in ``docs/architecture.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, TypeVar

from polytok.tokenizers.base import TextTokenizer
from polytok.tokenizers.bpe import ByteBPETokenizer
from polytok.tokenizers.char import CharTokenizer
from polytok.tokenizers.hf import HFTokenizer
from polytok.tokenizers.tiktoken_offline import TIKTOKEN_NAMES, TiktokenTokenizer

B = TypeVar("B", bound=Callable[..., Any])

Texts = Iterable[str] | Callable[[], Iterable[str]]
Builder = Callable[[dict[str, Any], "Texts | None"], TextTokenizer]


class _Buildable(NamedTuple):
    defaults: dict[str, Any]  # the keys the config accepts besides "name", with their defaults
    build: Builder  # (options with defaults filled in, texts) -> tokenizer


# config name -> how to build it. The base tokenizers are below; tokenizers defined in other
# packages join with `register_builder` where they are defined (nothing here names them).
BUILDABLE: dict[str, _Buildable] = {}


def register_builder(name: str, defaults: Mapping[str, Any] | None = None) -> Callable[[B], B]:
    """Function decorator: ``build_tokenizer({"name": name, **options}, texts)`` calls it.

    The decorated function takes ``(options, texts)``: ``options`` holds every key of
    ``defaults`` (the only keys the config accepts besides ``name``), ``texts`` is what the caller
    passed (documents, a zero-argument callable returning them, or ``None``); use
    `training_documents` to require them.
    """

    def register(build: B) -> B:
        BUILDABLE[name] = _Buildable(dict(defaults or {}), build)
        return build

    return register


def training_documents(name: str, texts: Texts | None) -> Iterable[str]:
    """The training documents of a trained tokenizer (calls ``texts`` when it is a callable).

    Raises:
        ValueError: ``texts`` is None.
    """
    if texts is None:
        raise ValueError(f"tokenizer {name!r} is trained on the corpus: pass its training texts")
    return texts() if callable(texts) else texts


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
    ``{name: <tiktoken name>}``, ``{name: hf, path: DIR}``, and those registered elsewhere with
    `register_builder` (``{name: prime, base: {...}}`` by `polytok.reso.primes`,
    ``{name: hybrid, base, tape, ...}`` by `polytok.glyph.hybrid`; `polytok.catalog` imports
    them all). ``texts`` (training documents, or a
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
        raise ValueError(
            f"unknown tokenizer name {name!r}; valid names: {', '.join(BUILDABLE)} (names defined "
            "in other packages register when imported; `import polytok.catalog` registers all)"
        )
    options = {k: v for k, v in cfg.items() if k != "name"}
    unknown = sorted(set(options) - set(BUILDABLE[name].defaults))
    if unknown:
        valid = ["name", *BUILDABLE[name].defaults]
        raise ValueError(
            f"unknown key(s) {unknown} for tokenizer {name!r}; valid keys: {', '.join(valid)}"
        )
    return BUILDABLE[name].build({**BUILDABLE[name].defaults, **options}, texts)


@register_builder("char")
def _build_char(options: dict[str, Any], texts: Texts | None) -> TextTokenizer:
    return CharTokenizer.train(training_documents("char", texts))


@register_builder("bpe", {"vocab_size": 2048, "min_frequency": 2})
def _build_bpe(options: dict[str, Any], texts: Texts | None) -> TextTokenizer:
    return ByteBPETokenizer.train(
        training_documents("bpe", texts),
        vocab_size=int(options["vocab_size"]),
        min_frequency=int(options["min_frequency"]),
    )


@register_builder("hf", {"path": None})
def _build_hf(options: dict[str, Any], texts: Texts | None) -> TextTokenizer:
    if not options["path"]:
        raise ValueError(
            "tokenizer 'hf' needs a local directory holding tokenizer.json: "
            "set tokenizer.path=/path/to/dir"
        )
    return HFTokenizer.from_dir(options["path"])


def _tiktoken(name: str) -> Builder:
    return lambda options, texts: TiktokenTokenizer(name)


for _name in TIKTOKEN_NAMES:
    register_builder(_name)(_tiktoken(_name))

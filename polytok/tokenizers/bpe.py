"""Byte-level BPE trained on a corpus with the Hugging Face ``tokenizers`` library.

Byte-level BPE (Radford et al. 2019, GPT-2, Sec. 2.2) runs BPE merges (Sennrich et al. 2016) over
the UTF-8 bytes of GPT-2-style pre-tokenised words: every string is representable, so encoding
never needs an unknown token and ``decode(encode(s)) == s`` for every ``s``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from polytok.tokenizers.base import register_spec_type
from polytok.tokenizers.hf import HFTokenizer

EOS_TOKEN = "<|endoftext|>"
MIN_VOCAB_SIZE = 257  # 256 byte symbols + <|endoftext|>


@register_spec_type("bpe")
class ByteBPETokenizer(HFTokenizer):
    """A byte-level BPE with one special token, ``<|endoftext|>`` (id 0, ``eos_id``); no bos/pad.

    Build it with `train`; save/load with `save`/`load` or through its spec (the
    ``tokenizer.json`` string). Encoding/decoding behave as in `HFTokenizer`.
    """

    spec_type = "bpe"

    def __init__(self, tokenizer: Tokenizer, name: str = "bpe") -> None:
        super().__init__(tokenizer, name=name, eos_token=EOS_TOKEN)

    @classmethod
    def train(
        cls, texts: Iterable[str], vocab_size: int = 2048, min_frequency: int = 2
    ) -> ByteBPETokenizer:
        """Learn merges on ``texts`` until ``vocab_size`` tokens or no pair occurs
        ``min_frequency`` times (so a small corpus can give a smaller vocabulary).

        Training is deterministic: the same texts and settings give the same ``tokenizer.json``.

        Raises:
            ValueError: ``vocab_size < 257`` or ``min_frequency < 1``, or the texts are empty.
        """
        if int(vocab_size) < MIN_VOCAB_SIZE:
            raise ValueError(
                f"bpe vocab_size must be >= {MIN_VOCAB_SIZE} (256 bytes + {EOS_TOKEN}), "
                f"got {vocab_size}; use e.g. vocab_size=2048"
            )
        if int(min_frequency) < 1:
            raise ValueError(f"bpe min_frequency must be >= 1, got {min_frequency}")
        tokenizer = Tokenizer(models.BPE())
        # use_regex: GPT-2's pre-tokenisation pattern; no prefix space, so decoding is exact
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=int(vocab_size),
            min_frequency=int(min_frequency),
            special_tokens=[EOS_TOKEN],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        seen = False

        def documents() -> Iterable[str]:
            nonlocal seen
            for text in texts:
                seen = seen or bool(text)
                yield text

        tokenizer.train_from_iterator(documents(), trainer=trainer)
        if not seen:
            raise ValueError("cannot train a byte-level BPE on an empty corpus (no text given)")
        return cls(tokenizer)

    def save(self, directory: str | Path) -> Path:
        """Write ``tokenizer.json`` and ``tokenizer_config.json`` into ``directory`` (atomically)."""
        from polytok.tokenizers.storage import save_tokenizer

        return save_tokenizer(self, directory)

    @classmethod
    def load(cls, directory: str | Path) -> ByteBPETokenizer:
        """Load what `save` wrote.

        Raises:
            FileNotFoundError: ``directory/tokenizer.json`` is missing.
            ValueError: the file is not a polytok byte-level BPE.
        """
        file = Path(directory) / "tokenizer.json"
        if not file.is_file():
            raise FileNotFoundError(f"no tokenizer.json in {directory} (missing file: {file})")
        text = file.read_text(encoding="utf-8")
        data = json.loads(text)
        if (data.get("model") or {}).get("type") != "BPE" or not any(
            t.get("content") == EOS_TOKEN for t in data.get("added_tokens", [])
        ):
            raise ValueError(f"{file} is not a byte-level BPE saved by ByteBPETokenizer")
        return cls(Tokenizer.from_str(text))

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> ByteBPETokenizer:
        """Inverse of `to_spec`."""
        return cls(Tokenizer.from_str(spec["tokenizer_json"]))

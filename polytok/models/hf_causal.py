"""Any local Hugging Face causal LM as a polytok model: ``model=hf_causal_lm model.path=DIR``.

The directory is loaded with ``AutoModelForCausalLM.from_pretrained(DIR, local_files_only=True)``
(GPT-2 family tested; other architectures where transformers supports them). A GPT-2 snapshot
copied from a Hugging Face cache (``models--gpt2/snapshots/<hash>/``) loads as it is. Nothing is
ever downloaded: a hub name such as ``gpt2`` is refused with how to pass a local path instead.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from polytok.models.base import LMOutput
from polytok.models.registry import build_config, register_model

_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
WEIGHT_SUFFIXES = (".safetensors", ".bin")


def resolve_model_dir(path: str | os.PathLike | None) -> Path:
    """Check that ``path`` is a local model directory with a ``config.json``; return it.

    Raises:
        ValueError: no path, a hub name (``gpt2``, ``org/model``) that is not a local directory,
            or a path that is not a directory.
        FileNotFoundError: the directory does not exist or holds no ``config.json``.
    """
    if path is None or str(path).strip() in ("", "???"):
        raise ValueError(
            "model.path is not set: pass a local Hugging Face model directory, e.g. "
            "model.path=logs/gpt2_base/runs/<time>/hf (written by `python train.py "
            "experiment=gpt2_base`)"
        )
    directory = Path(os.path.expanduser(str(path)))
    if not directory.exists():
        if _HUB_NAME.match(str(path)) and not str(path).startswith("."):
            raise ValueError(
                f"model.path={str(path)!r} looks like a Hugging Face hub name, and polytok never "
                "downloads (offline): pass a local directory instead, e.g. a snapshot from your "
                "Hugging Face cache (~/.cache/huggingface/hub/models--gpt2/snapshots/<hash>) or "
                "the hf/ directory that `python train.py experiment=gpt2_base` writes"
            )
        raise FileNotFoundError(
            f"model directory {str(directory)!r} does not exist; pass model.path=DIR of a local "
            "Hugging Face model (config.json + weights)"
        )
    if not directory.is_dir():
        raise ValueError(f"model.path={str(directory)!r} is a file, not a model directory")
    if not (directory / "config.json").is_file():
        found = sorted(p.name for p in directory.iterdir())[:10]
        raise FileNotFoundError(
            f"{str(directory)!r} has no config.json (found: {found}); pass the directory that "
            "holds config.json and the weights (for a hub cache: snapshots/<hash>/)"
        )
    return directory


def weight_files(directory: Path) -> list[Path]:
    """The weight files of a model directory, sorted (safetensors shards or .bin)."""
    return sorted(p for p in directory.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file())


def model_fingerprint(directory: str | os.PathLike) -> str:
    """sha256 (hex) of a model directory's ``config.json`` and weight files, in name order."""
    directory = resolve_model_dir(directory)
    h = hashlib.sha256()
    for path in [directory / "config.json", *weight_files(directory)]:
        h.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def load_causal_lm(directory: str | os.PathLike) -> nn.Module:
    """``AutoModelForCausalLM`` from a local directory (float32, local files only, eval mode)."""
    from transformers import AutoModelForCausalLM

    directory = resolve_model_dir(directory)
    try:
        net = AutoModelForCausalLM.from_pretrained(
            str(directory), local_files_only=True, dtype=torch.float32
        )
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(
            f"transformers cannot load a causal LM from {str(directory)!r}: {err}"
        ) from err
    return net


def max_positions_of(config: Any) -> int:
    """Context length of a transformers config (``n_positions`` or ``max_position_embeddings``)."""
    for key in ("n_positions", "max_position_embeddings", "n_ctx", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return 1 << 30  # no learned positions (e.g. rotary without a stated limit)


@dataclass
class HFCausalLMConfig:
    """``path``: local model directory. ``vocab_size``: the tokenizer's, checked against the model."""

    path: str = ""
    vocab_size: int = 0

    def __post_init__(self) -> None:
        resolve_model_dir(self.path)


def check_vocab_fits(tokenizer_vocab: int, model_rows: int, directory: str | os.PathLike) -> None:
    """A tokenizer fits a model when every id it emits has a row.

    Raises:
        ValueError: ``tokenizer_vocab > model_rows``.
    """
    if tokenizer_vocab > model_rows:
        raise ValueError(
            f"the tokenizer has {tokenizer_vocab} ids but the model in {str(directory)!r} has "
            f"only {model_rows} token rows: they do not belong together; use the tokenizer "
            "saved with the model (tokenizer=hf_model tokenizer.path=DIR)"
        )


@register_model("hf_causal_lm")
class HFCausalLM(nn.Module):
    """A transformers causal LM; ``forward(input_ids (B, T)) -> LMOutput`` with logits (B, T, V)."""

    config_class = HFCausalLMConfig

    def __init__(self, config: HFCausalLMConfig) -> None:
        super().__init__()
        self.config = config
        self.net = load_causal_lm(config.path)
        rows = self.net.get_input_embeddings().weight.shape[0]
        if config.vocab_size:
            check_vocab_fits(config.vocab_size, rows, config.path)
        self.max_positions = max_positions_of(self.net.config)

    @classmethod
    def from_tokenizer(cls, options: dict[str, Any], tokenizer: Any) -> HFCausalLM:
        return cls(build_config(cls, {**options, "vocab_size": tokenizer.vocab_size}))

    def forward(self, input_ids: torch.Tensor) -> LMOutput:
        if input_ids.shape[-1] > self.max_positions:
            raise ValueError(
                f"sequence length {input_ids.shape[-1]} exceeds the model's {self.max_positions} "
                "positions; lower data.block_size"
            )
        logits = self.net(input_ids=input_ids, use_cache=False).logits  # (B, T, V)
        return LMOutput(logits, logits.new_zeros(()), {})


__all__ = [
    "HFCausalLM",
    "HFCausalLMConfig",
    "check_vocab_fits",
    "load_causal_lm",
    "max_positions_of",
    "model_fingerprint",
    "resolve_model_dir",
]

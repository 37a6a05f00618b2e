"""GPT-2 as a polytok causal LM, built on `transformers.GPT2LMHeadModel`.

Radford et al. 2019, "Language Models are Unsupervised Multitask Learners". The vocabulary follows
the tokenizer; a local pretrained directory can be loaded (local files only, never a hub download).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from polytok.models.base import LMOutput
from polytok.models.registry import build_config, register_model


@dataclass
class GPT2LMConfig:
    vocab_size: int = 50257  # set from the tokenizer by `from_tokenizer`
    dim: int = 128  # residual width (GPT-2's n_embd)
    num_layers: int = 4  # transformer blocks (n_layer)
    num_heads: int = 4  # attention heads (n_head); must divide dim
    max_positions: int = 256  # learned absolute positions (n_positions)
    dropout: float = 0.0  # residual, embedding and attention dropout
    pretrained: str | None = None  # local directory with config.json + weights; overrides sizes
    tie_embeddings: bool = True  # share the input embedding and the LM head

    def __post_init__(self) -> None:
        for name in ("vocab_size", "dim", "num_layers", "num_heads", "max_positions"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"GPT2LMConfig.{name} must be a positive int, got {value!r}")
        if self.dim % self.num_heads:
            raise ValueError(
                f"GPT2LMConfig.dim={self.dim} is not divisible by num_heads={self.num_heads}; "
                "choose dim as a multiple of num_heads"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPT2LMConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.pretrained is not None and not (Path(self.pretrained) / "config.json").is_file():
            raise ValueError(
                f"GPT2LMConfig.pretrained={self.pretrained!r} is not a local directory with a "
                "config.json; pass a directory written by `save_pretrained` (no hub downloads)"
            )


@register_model("gpt2")
class GPT2LM(nn.Module):
    """GPT-2 language model; ``forward(input_ids (B, T)) -> LMOutput`` with logits (B, T, V)."""

    config_class = GPT2LMConfig

    def __init__(self, config: GPT2LMConfig) -> None:
        super().__init__()
        from transformers import GPT2Config, GPT2LMHeadModel

        self.config = config
        if config.pretrained is not None:
            self.net = GPT2LMHeadModel.from_pretrained(config.pretrained, local_files_only=True)
            if self.net.config.vocab_size != config.vocab_size:
                self.net.resize_token_embeddings(config.vocab_size)
            hf = self.net.config  # the architecture comes from the directory: record it
            config = dataclasses.replace(
                config,
                dim=hf.n_embd,
                num_layers=hf.n_layer,
                num_heads=hf.n_head,
                max_positions=hf.n_positions,
                tie_embeddings=bool(hf.tie_word_embeddings),
            )
            self.config = config
        else:
            hf = GPT2Config(
                vocab_size=config.vocab_size,
                n_embd=config.dim,
                n_layer=config.num_layers,
                n_head=config.num_heads,
                n_positions=config.max_positions,
                resid_pdrop=config.dropout,
                embd_pdrop=config.dropout,
                attn_pdrop=config.dropout,
                tie_word_embeddings=config.tie_embeddings,
                bos_token_id=None,
                eos_token_id=None,
            )
            self.net = GPT2LMHeadModel(hf)
        self.max_positions = int(self.net.config.n_positions)

    @classmethod
    def from_tokenizer(cls, options: dict[str, Any], tokenizer: Any) -> GPT2LM:
        return cls(build_config(cls, {**options, "vocab_size": tokenizer.vocab_size}))

    def forward(self, input_ids: torch.Tensor) -> LMOutput:
        if input_ids.shape[-1] > self.max_positions:
            raise ValueError(
                f"sequence length {input_ids.shape[-1]} exceeds the model's max_positions="
                f"{self.max_positions}; lower block_size or raise model.max_positions"
            )
        logits = self.net(input_ids=input_ids, use_cache=False).logits  # (B, T, V)
        return LMOutput(logits, logits.new_zeros(()), {})

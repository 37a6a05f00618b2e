"""`GlyphGPT2`: GPT-2 whose vocabulary is extended by a glyph tape's ids.

New embedding rows (glyphs, sentence families, the two markers) start from the mean of the base
embeddings of the tokens they replace, the "meta-embedding" initialisation used when extending
vocabularies (e.g. Gee et al., 2022, "Fast Vocabulary Transfer for Language Model Compression";
Liu et al., 2025, SuperBPE). Optionally each mean is mixed with its Gold-code spread copy
(`polytok.poly.GoldSpreading`, ``x' = (1 - s) e + s c * (Q e)``), which keeps the norm of the
spread part and makes glyphs with similar expansions less alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from polytok.glyph.tape import MARKERS
from polytok.models.gpt2 import GPT2LM, GPT2LMConfig
from polytok.models.registry import build_config, register_model

INITS = ("mean", "random")


@dataclass
class GlyphGPT2Config(GPT2LMConfig):
    """`GPT2LMConfig` plus the glyph extension.

    Attributes:
        base_vocab_size: ids below this are base tokens (set from the tokenizer); 0 = unknown.
        init: "mean" (meta-embedding of the replaced tokens) or "random" (GPT-2's init).
        spreading: weight ``s`` in [0, 1] of the Gold-spread copy mixed into each new row.
    """

    base_vocab_size: int = 0
    init: str = "mean"
    spreading: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.init not in INITS:
            raise ValueError(f"GlyphGPT2Config.init must be one of {INITS}, got {self.init!r}")
        if not 0.0 <= self.spreading <= 1.0:
            raise ValueError(f"GlyphGPT2Config.spreading must be in [0, 1], got {self.spreading}")
        if not 0 <= self.base_vocab_size <= self.vocab_size:
            raise ValueError(
                f"base_vocab_size={self.base_vocab_size} must be in [0, vocab_size="
                f"{self.vocab_size}]; build the model with GlyphGPT2.from_tokenizer"
            )


@register_model("glyph_gpt2")
class GlyphGPT2(GPT2LM):
    """GPT-2 over hybrid ids: ``forward(input_ids (B, T)) -> LMOutput`` with logits (B, T, V).

    Build with `from_tokenizer` and a `polytok.glyph.hybrid.HybridTokenizer`; a ``pretrained``
    local GPT-2 directory must have the base tokenizer's vocabulary (``gpt2``: 50257).
    """

    config_class = GlyphGPT2Config

    def __init__(self, config: GlyphGPT2Config) -> None:
        super().__init__(config)

    @classmethod
    def from_tokenizer(cls, options: dict[str, Any], tokenizer: Any) -> GlyphGPT2:
        """Build for a `HybridTokenizer`, initialising every new row (see the module docstring).

        Raises:
            TypeError: the tokenizer is not a hybrid tokenizer (no tape).
        """
        if not hasattr(tokenizer, "tape") or not hasattr(tokenizer, "expand"):
            raise TypeError(
                f"glyph_gpt2 needs a HybridTokenizer (tokenizer: {{type: hybrid, ...}}), got "
                f"{type(tokenizer).__name__}; use model name 'gpt2' for plain tokenizers"
            )
        options = {
            **options,
            "vocab_size": tokenizer.vocab_size,
            "base_vocab_size": tokenizer.base.vocab_size,
        }
        model = cls(build_config(cls, options))
        if model.config.init == "mean":
            model.init_new_rows(new_row_expansions(tokenizer))
        return model

    @torch.no_grad()
    def init_new_rows(self, expansions: dict[int, list[int]]) -> None:
        """Set row ``i`` of the input embedding to the mean of the rows of ``expansions[i]``.

        Args:
            expansions: new token id -> base ids it stands for (non-empty lists).
        """
        weight = self.net.get_input_embeddings().weight  # (V, D)
        ids = sorted(i for i, e in expansions.items() if e)
        if not ids:
            return
        lengths = torch.tensor([len(expansions[i]) for i in ids], device=weight.device)
        flat = torch.tensor([t for i in ids for t in expansions[i]], device=weight.device)
        offsets = torch.cumsum(lengths, 0) - lengths
        means = torch.nn.functional.embedding_bag(flat, weight, offsets, mode="mean")  # (N, D)
        if self.config.spreading > 0:
            from polytok.poly.spreading import GoldSpreading

            spread = GoldSpreading(weight.shape[1], ("glyph",)).to(weight.device)
            s = self.config.spreading
            means = (1 - s) * means + s * spread.spread(means, "glyph")
        weight[torch.tensor(ids, device=weight.device)] = means.to(weight.dtype)


def new_row_expansions(tokenizer: Any) -> dict[int, list[int]]:
    """Every id above the base vocabulary -> the base ids it replaces (glyphs, families, markers)."""
    base = tokenizer.base
    out: dict[int, list[int]] = {}
    for token_id, ids in tokenizer.tape.all_expansions().items():
        out[token_id] = list(ids)
    for token_id, text in tokenizer.tape.all_families().items():
        out[token_id] = base.encode(text)
    for token_id, marker in zip(tokenizer.marker_ids, MARKERS):
        out[token_id] = base.encode(marker)
    return out

"""The causal language-model interface shared by GPT-2, ResoFormer and the glyph adapter."""

from __future__ import annotations

from typing import NamedTuple

import torch

# Targets with this id are left out of the loss (padded windows; F.cross_entropy's default).
IGNORE_INDEX = -100


class LMOutput(NamedTuple):
    """What a causal LM's ``forward(input_ids)`` returns (fields never depend on flags).

    Attributes:
        logits: (B, T, V) next-token logits.
        aux_loss: scalar added to the cross-entropy (commitment, ponder cost); 0 when unused.
        metrics: scalars to log under ``train/`` and ``val/`` (e.g. ``code_perplexity``).
    """

    logits: torch.Tensor
    aux_loss: torch.Tensor
    metrics: dict[str, torch.Tensor]


def as_lm_output(out: torch.Tensor | LMOutput) -> LMOutput:
    """Accept models that return bare logits as well as `LMOutput`."""
    if isinstance(out, LMOutput):
        return out
    if isinstance(out, torch.Tensor):
        return LMOutput(out, out.new_zeros(()), {})
    raise TypeError(f"a language model must return a Tensor or LMOutput, got {type(out).__name__}")

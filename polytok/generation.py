"""Decoding for every polytok causal LM: greedy, temperature, top-k, top-p, entropy-aware.

Works with any ``nn.Module`` whose ``forward(input_ids (B, T))`` returns logits (B, T, V) or an
`LMOutput`. Batched, with stop ids, and deterministic under ``seed``.

Entropy-aware sampling scales the temperature continuously with the predictive entropy H (nats)
relative to a target H*: ``T_eff = T * exp(strength * (H* - H))`` (clamped to
``[T / max_factor, T * max_factor]``): a flat distribution (H > H*) is sharpened and a peaked one
(H < H*) is softened, without the jumps of threshold rules. Cf. Mirostat (Basu et al., 2021),
which steers surprise toward a target, and entropy-based dynamic temperature (Zhang et al., 2024).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from polytok.models.base import as_lm_output


@dataclass
class SamplingConfig:
    strategy: str = "sample"  # "greedy" | "sample"
    temperature: float = 1.0  # > 0; logits are divided by it
    top_k: int | None = None  # keep the k most likely tokens
    top_p: float | None = None  # nucleus: smallest set with cumulative probability >= top_p
    entropy_target: float | None = None  # nats; enables entropy-aware temperature
    entropy_strength: float = 1.0  # how strongly the temperature follows the entropy gap
    entropy_max_factor: float = 4.0  # temperature stays within [T / f, T * f]

    def __post_init__(self) -> None:
        if self.strategy not in ("greedy", "sample"):
            raise ValueError(f"strategy must be 'greedy' or 'sample', got {self.strategy!r}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}; use greedy for 0")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be >= 1 or None, got {self.top_k}")
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.entropy_target is not None and self.entropy_target < 0:
            raise ValueError(f"entropy_target must be >= 0 nats, got {self.entropy_target}")
        if self.entropy_max_factor < 1:
            raise ValueError(f"entropy_max_factor must be >= 1, got {self.entropy_max_factor}")


def entropy_temperature(logits: torch.Tensor, config: SamplingConfig) -> torch.Tensor:
    """Per-row temperature (B, 1) for entropy-aware sampling; constant T when disabled."""
    base = torch.full_like(logits[:, :1], config.temperature)
    if config.entropy_target is None:
        return base
    logp = F.log_softmax(logits.float(), dim=-1)
    entropy = -(logp.exp() * logp).sum(-1, keepdim=True)  # (B, 1) nats
    factor = torch.exp(config.entropy_strength * (config.entropy_target - entropy))
    factor = factor.clamp(1.0 / config.entropy_max_factor, config.entropy_max_factor)
    return base * factor.to(base.dtype)


def filter_logits(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Mask logits (B, V) outside top-k and the top-p nucleus with -inf (Holtzman et al., 2020)."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        # drop a token when the mass before it already reaches top_p (the first is always kept)
        drop_sorted = (cumulative - sorted_logits.softmax(-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def next_token(
    logits: torch.Tensor, config: SamplingConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Choose the next id (B,) from last-position logits (B, V)."""
    if config.strategy == "greedy":
        return logits.argmax(-1)
    logits = logits.float() / entropy_temperature(logits, config)
    logits = filter_logits(logits, config.top_k, config.top_p)
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(
    model: nn.Module,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    config: SamplingConfig | None = None,
    *,
    stop_ids: Iterable[int] = (),
    pad_id: int | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Extend ``input_ids`` (B, T) by up to ``max_new_tokens`` ids.

    Rows that emit a stop id keep it and are padded with ``pad_id`` (default: that stop id)
    afterwards; generation ends early when every row has stopped. The context is cropped to the
    model's ``max_positions`` when it has one.

    Returns:
        (B, T + n) ids with n <= max_new_tokens.
    """
    config = config or SamplingConfig()
    if input_ids.ndim != 2 or input_ids.shape[1] == 0:
        raise ValueError(
            f"input_ids must be (B, T) with T >= 1, got shape {tuple(input_ids.shape)}; "
            "start from a BOS/EOS id or a prompt"
        )
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    generator = None
    if seed is not None:
        generator = torch.Generator(device=input_ids.device).manual_seed(seed)
    stops = torch.tensor(sorted(set(stop_ids)), dtype=torch.long, device=input_ids.device)
    window = getattr(model, "max_positions", None)
    was_training = model.training
    model.eval()
    ids = input_ids
    done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    try:
        for _ in range(max_new_tokens):
            context = ids if window is None else ids[:, -window:]
            logits = as_lm_output(model(context)).logits[:, -1, :]  # (B, V)
            token = next_token(logits, config, generator)
            if stops.numel():
                fill = stops[0] if pad_id is None else torch.tensor(pad_id, device=ids.device)
                token = torch.where(done, fill, token)
                done = done | torch.isin(token, stops)
            ids = torch.cat([ids, token[:, None]], dim=1)
            if stops.numel() and bool(done.all()):
                break
    finally:
        model.train(was_training)
    return ids


__all__ = ["SamplingConfig", "entropy_temperature", "filter_logits", "generate", "next_token"]

"""`ResoFormer`: a GPT whose every TinyAleph component can be switched on or off.

With all switches off (`ResoFormerConfig.plain_gpt`) the model is nanoGPT's GPT (pre-LN blocks,
learned absolute positions, GELU MLP, tied input/output embeddings, no biases). The ResoFormer
defaults add prime features to the embedding (`PrimeEmbedding`), resonance + rotary phases and
golden-ratio head weights in attention (`ResonantAttention`), a coherence gate on every block's
update (`CoherenceGate`) and a vector-quantized residual branch after the last block
(`EntropyCollapse`); ponder-style halting over layers (`PonderHalting`) is optional.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from polytok.models.base import LMOutput
from polytok.models.registry import build_config, register_model
from polytok.nn.mlp import MLP
from polytok.reso.attention import ResonantAttention
from polytok.reso.collapse import EntropyCollapse
from polytok.reso.embedding import PrimeEmbedding
from polytok.reso.gate import INV_PHI, CoherenceGate
from polytok.reso.halting import PonderHalting
from polytok.reso.probability import TokenProbability


@dataclass
class ResoFormerConfig:
    """Every ResoFormer option; switches are the bool fields and the two ``*_dim`` fields."""

    vocab_size: int = 69  # set from the tokenizer by `ResoFormer.from_tokenizer`
    max_positions: int = 64  # longest context (phase tables and learned positions)
    dim: int = 128  # model width D
    num_heads: int = 4  # attention heads H (D % H == 0)
    num_layers: int = 4  # transformer blocks L
    mlp_ratio: float = 4.0  # MLP hidden width = mlp_ratio * D
    dropout: float = 0.0  # dropout on embeddings, attention and residual branches
    bias: bool = False  # biases in linear layers (nanoGPT: False)
    learned_positions: bool = False  # add learned absolute position embeddings (GPT-2 style)
    resonant_dim: int = 16  # per-head channels with resonance phases 2 pi ln(n) / ln(q_k)
    rotary_dim: int = 16  # per-head channels with standard rotary phases
    rotary_base: float = 10000.0  # standard rotary wavelength base
    golden_heads: bool = True  # head outputs weighted by phi^-h, normalised to mean 1
    prime_features: bool = True  # add log p and residues of each token's prime to its embedding
    prime_moduli: tuple[int, ...] = (3, 4, 5, 7, 8)  # residue moduli of the prime features
    coherence_gate: bool = True  # gate each block's update by sigma(kappa (c - tau))
    gate_tau: float = INV_PHI  # coherence threshold tau in (0, 1)
    gate_kappa: float = 10.0  # gate sharpness kappa
    gate_bias: float = 4.0  # initial coherence bias (gate open at init)
    halting: bool = False  # PonderNet-style halting over layers
    ponder_weight: float = 0.01  # weight of the ponder cost in aux_loss
    halting_bias: float = -3.0  # initial halting bias (mass on the last layer at init)
    collapse: bool = True  # vector-quantized residual branch after the last block
    codebook_size: int = 64  # codes of the collapse quantizer
    code_dim: int = 32  # width of the code space
    commitment_weight: float = 0.25  # commitment loss weight (beta)
    collapse_alpha: float = 0.1  # initial scale of the collapse branch
    codebook_decay: float = 0.99  # EMA decay of the codebook
    dead_code_threshold: float = 1.0  # EMA usage below which a code is restarted
    tie_embeddings: bool = True  # output head shares the (effective) embedding table

    # Old option names still read from configs and checkpoints -> their current name.
    RENAMED: ClassVar[dict[str, str]] = {"tie_weights": "tie_embeddings"}

    def __post_init__(self) -> None:
        self.prime_moduli = tuple(int(m) for m in self.prime_moduli)
        positive = ("vocab_size", "max_positions", "dim", "num_heads", "num_layers")
        for name in positive:
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.dim % self.num_heads:
            raise ValueError(
                f"dim={self.dim} is not divisible by num_heads={self.num_heads}; pick num_heads "
                f"dividing dim (e.g. {self.dim}/{_divisor_near(self.dim, self.num_heads)})"
            )
        head_dim = self.dim // self.num_heads
        for name in ("resonant_dim", "rotary_dim"):
            value = getattr(self, name)
            if value < 0 or value % 2:
                raise ValueError(
                    f"{name} must be a non-negative even number (phases rotate channel pairs), "
                    f"got {value}; use {max(0, value - value % 2)}"
                )
        if self.resonant_dim + self.rotary_dim > head_dim:
            raise ValueError(
                f"resonant_dim + rotary_dim = {self.resonant_dim + self.rotary_dim} exceeds the "
                f"head width dim / num_heads = {head_dim}; lower them"
            )
        if not 0.0 < self.gate_tau < 1.0:
            raise ValueError(
                f"gate_tau must lie in (0, 1) (coherence is a probability), got {self.gate_tau}; "
                f"the default is 1/phi = {INV_PHI:.6f}"
            )
        if self.gate_kappa <= 0:
            raise ValueError(f"gate_kappa must be > 0, got {self.gate_kappa}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.mlp_ratio <= 0:
            raise ValueError(f"mlp_ratio must be > 0, got {self.mlp_ratio}")
        if self.prime_features and any(m < 2 for m in self.prime_moduli):
            raise ValueError(f"prime_moduli must all be >= 2, got {list(self.prime_moduli)}")
        if self.collapse and (self.codebook_size < 2 or self.code_dim <= 0):
            raise ValueError(
                f"collapse needs codebook_size >= 2 and code_dim > 0, got {self.codebook_size} "
                f"and {self.code_dim}"
            )
        if self.ponder_weight < 0 or self.commitment_weight < 0:
            raise ValueError("ponder_weight and commitment_weight must be >= 0")

    @classmethod
    def plain_gpt(cls, **overrides: Any) -> ResoFormerConfig:
        """nanoGPT's GPT: every ResoFormer component off, learned absolute positions."""
        options: dict[str, Any] = dict(
            learned_positions=True,
            resonant_dim=0,
            rotary_dim=0,
            golden_heads=False,
            prime_features=False,
            coherence_gate=False,
            halting=False,
            collapse=False,
        )
        options.update(overrides)
        return cls(**options)


def _divisor_near(dim: int, heads: int) -> int:
    divisors = [h for h in range(1, dim + 1) if dim % h == 0]
    return min(divisors, key=lambda h: abs(h - heads))


class ResoBlock(nn.Module):
    """Pre-LN transformer block; with a gate, ``x + g(c(u)) u`` for the block update ``u``."""

    def __init__(self, config: ResoFormerConfig) -> None:
        super().__init__()
        c = config
        self.norm1 = nn.LayerNorm(c.dim, bias=c.bias)
        self.attn = ResonantAttention(
            c.dim,
            c.num_heads,
            c.max_positions,
            resonant_dim=c.resonant_dim,
            rotary_dim=c.rotary_dim,
            rotary_base=c.rotary_base,
            golden_heads=c.golden_heads,
            dropout=c.dropout,
            bias=c.bias,
        )
        self.norm2 = nn.LayerNorm(c.dim, bias=c.bias)
        self.mlp = MLP(c.dim, int(c.mlp_ratio * c.dim), dropout=c.dropout, bias=c.bias)
        self.gate = (
            CoherenceGate(c.dim, c.gate_tau, c.gate_kappa, c.gate_bias)
            if c.coherence_gate
            else None
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, T, D) -> ((B, T, D), gate (B, T, 1) or None)."""
        if self.gate is None:
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x)), None
        a = self.attn(self.norm1(x))
        update = a + self.mlp(self.norm2(x + a))
        return self.gate(x, update)


@register_model("resoformer")
class ResoFormer(nn.Module):
    """Causal LM over dense token ids with switchable TinyAleph components.

    Args:
        config: a `ResoFormerConfig`.
    """

    config_class = ResoFormerConfig

    def __init__(self, config: ResoFormerConfig) -> None:
        super().__init__()
        if not isinstance(config, ResoFormerConfig):
            raise TypeError(f"expected a ResoFormerConfig, got {type(config).__name__}")
        c = self.config = config
        self.max_positions = c.max_positions
        self.embed = PrimeEmbedding(
            c.vocab_size, c.dim, moduli=c.prime_moduli if c.prime_features else None
        )
        self.positions = nn.Embedding(c.max_positions, c.dim) if c.learned_positions else None
        self.dropout = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(ResoBlock(c) for _ in range(c.num_layers))
        self.halting = PonderHalting(c.dim, c.num_layers, c.halting_bias) if c.halting else None
        self.collapse = None
        if c.collapse:
            self.collapse = EntropyCollapse(
                c.dim,
                c.codebook_size,
                c.code_dim,
                commitment_weight=c.commitment_weight,
                decay=c.codebook_decay,
                alpha=c.collapse_alpha,
                dead_code_threshold=c.dead_code_threshold,
            )
        self.norm = nn.LayerNorm(c.dim, bias=c.bias)
        self.head = None if c.tie_embeddings else nn.Linear(c.dim, c.vocab_size, bias=False)
        self._init_weights()

    def _init_weights(self) -> None:
        """GPT-2 init: N(0, 0.02), residual projections N(0, 0.02 / sqrt(2 L))."""
        for name, module in self.named_modules():
            if name.startswith("collapse.quantizer"):
                continue  # the quantizer owns its codebook init (k-means on the first batch)
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
        for name, param in self.named_parameters():
            if name.endswith("attn.attn.proj.weight") or name.endswith("mlp.proj.weight"):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * self.config.num_layers))
        for module in self.modules():
            if isinstance(module, (PrimeEmbedding, TokenProbability)):
                module.reset_parameters()

    @classmethod
    def from_tokenizer(cls, options: Mapping[str, Any], tokenizer: Any) -> ResoFormer:
        """Build with ``vocab_size`` from ``tokenizer`` (unknown option keys raise)."""
        options = dict(options)
        given = options.pop("vocab_size", None)
        if given is not None and int(given) != tokenizer.vocab_size:
            raise ValueError(
                f"vocab_size={given} disagrees with the tokenizer's {tokenizer.vocab_size}; "
                "leave vocab_size out (it follows the tokenizer)"
            )
        options["vocab_size"] = tokenizer.vocab_size
        return cls(build_config(cls, options))

    def num_parameters(self) -> int:
        """Trainable parameters (tied weights counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def forward(self, input_ids: torch.Tensor) -> LMOutput:
        """Next-token logits.

        Args:
            input_ids: (B, T) int64 dense ids, ``T <= max_positions``.

        Returns:
            `LMOutput` with logits (B, T, V), ``aux_loss`` = commitment loss + ponder_weight *
            ponder cost (0 when both are off), and metrics (keys fixed by the config):
            ``gate_mean`` (coherence gate), ``ponder_cost`` (halting), ``code_perplexity`` and
            ``code_usage`` (collapse).
        """
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be (B, T), got shape {tuple(input_ids.shape)}")
        t = input_ids.shape[1]
        if t > self.max_positions:
            raise ValueError(
                f"sequence length {t} exceeds max_positions={self.max_positions}; crop the input"
            )
        table = self.embed.weight  # (V, D), effective table (tied to the head)
        x = nn.functional.embedding(input_ids, table)  # (B, T) -> (B, T, D)
        if self.positions is not None:
            x = x + self.positions.weight[:t]
        x = self.dropout(x)
        aux = x.new_zeros(())
        metrics: dict[str, torch.Tensor] = {}
        outputs, gates = [], []
        for block in self.blocks:
            x, g = block(x)
            outputs.append(x)
            if g is not None:
                gates.append(g.detach().mean())
        if gates:
            metrics["gate_mean"] = torch.stack(gates).mean()
        if self.halting is not None:
            x, ponder = self.halting(outputs)
            aux = aux + self.config.ponder_weight * ponder
            metrics["ponder_cost"] = ponder.detach()
        if self.collapse is not None:
            collapsed = self.collapse(x)
            x = collapsed.hidden
            aux = aux + collapsed.loss
            metrics["code_perplexity"] = collapsed.perplexity.detach()
            metrics["code_usage"] = collapsed.usage.detach()
        x = self.norm(x)
        logits = x @ table.t() if self.head is None else self.head(x)  # (B, T, V)
        return LMOutput(logits, aux, metrics)


def config_dict(config: ResoFormerConfig) -> dict[str, Any]:
    """The config as a JSON-able dict (tuples become lists)."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
    }

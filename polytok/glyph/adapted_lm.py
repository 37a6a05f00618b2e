"""A pretrained Hugging Face causal LM extended by a glyph tape: ``model=glyph_adapt``.

The base model is loaded unchanged from ``path``; the ``N`` new tokens of a `HybridTokenizer`
(glyphs, families, the two markers) get their own rows, kept apart from the base weights:

    x_t    = E[id_t]                  if id_t < B  else  new_in[id_t - B]
    h      = backbone(x)              (B, T, D), final norm included
    logits = [lm_head(h)[..., :B] + base_offset,  h @ new_out^T + new_offset]     (B, T, B + N)

``adapter`` decides what trains: ``new_rows`` (only the new rows; every base weight stays bitwise
equal), ``lora`` (LoRA through ``peft``, Hu et al. 2021, plus the new rows) or ``full`` (everything).
``init`` picks the new rows' start (`polytok.glyph.inits`). The base directory's fingerprint
(sha256 of config and weights) is recorded in the config and checked whenever the model is built,
so a checkpoint refuses a base directory that moved or changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from polytok.glyph.adapter import new_row_expansions
from polytok.glyph.inits import DEFAULT_INIT, OFFSET_INITS, check_init, new_rows
from polytok.models.base import LMOutput
from polytok.models.hf_causal import load_causal_lm, max_positions_of, resolve_model_dir
from polytok.models.registry import build_config, register_model

ADAPTERS = ("new_rows", "lora", "full")
# LoRA on every projection of the block; other architectures: peft's defaults
LORA_TARGETS = {"gpt2": ["c_attn", "c_proj", "c_fc"]}


@dataclass
class GlyphAdaptConfig:
    """Options of `GlyphAdaptedLM` (``vocab_size``/``base_vocab_size`` come from the tokenizer)."""

    path: str = ""
    adapter: str = "new_rows"
    init: str = DEFAULT_INIT
    vocab_size: int = 0
    base_vocab_size: int = 0
    base_fingerprint: str | None = None
    lora_r: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    lora_targets: list[str] | None = field(default=None)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.adapter not in ADAPTERS:
            raise ValueError(
                f"unknown adapter {self.adapter!r}; valid adapters: {list(ADAPTERS)} "
                "(new_rows: only the new rows train; lora: LoRA + new rows; full: everything)"
            )
        check_init(self.init)
        if self.lora_r <= 0:
            raise ValueError(f"lora_r must be a positive int, got {self.lora_r}")


def check_base_dir(path: str, fingerprint: str | None) -> None:
    """The base directory exists and, when ``fingerprint`` is given, still has that content.

    Raises:
        FileNotFoundError: the directory is gone (moved or deleted).
        ValueError: its config or weights changed.
    """
    from polytok.models.hf_causal import model_fingerprint

    try:
        resolve_model_dir(path)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"the base model directory {path!r} of this glyph adaptation no longer exists (moved "
            f"or deleted; fingerprint {str(fingerprint)[:16]}...): restore it, or pass its new "
            "location as model.path (Python: load_from_checkpoint(ckpt, model={**hparams"
            "['model'], 'path': NEW}))"
        ) from err
    if fingerprint is not None and model_fingerprint(path) != fingerprint:
        raise ValueError(
            f"the base model directory {path!r} changed since this adaptation was made: its "
            f"sha256 (config + weights) is no longer {fingerprint[:16]}...; the adapted rows "
            "belong to the old weights. Restore the original base or adapt the new one again"
        )


def lora_targets(net: nn.Module, requested: list[str] | None) -> list[str]:
    """Target module names for LoRA, checked against the architecture.

    Raises:
        ValueError: a requested name is not a linear layer of the model (the ones it has are listed).
    """
    from transformers.pytorch_utils import Conv1D

    have = sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, m in net.named_modules()
            if isinstance(m, (nn.Linear, Conv1D)) and not name.endswith("lm_head")
        }
    )
    if requested is None:
        requested = LORA_TARGETS.get(net.config.model_type)
        if requested is None:
            from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING

            requested = TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING.get(
                net.config.model_type, have
            )
    missing = [t for t in requested if t not in have]
    if missing:
        raise ValueError(
            f"LoRA target modules {missing} are not in this {net.config.model_type} model; "
            f"its linear layers are {have}: set model.lora_targets to some of them"
        )
    return list(requested)


@register_model("glyph_adapt")
class GlyphAdaptedLM(nn.Module):
    """A base causal LM plus new-token rows; ``forward(ids (B, T)) -> LMOutput`` (B, T, V)."""

    config_class = GlyphAdaptConfig

    def __init__(self, config: GlyphAdaptConfig) -> None:
        super().__init__()
        check_base_dir(config.path, config.base_fingerprint)
        self.config = config
        net = load_causal_lm(config.path)
        rows = net.get_input_embeddings().weight.shape[0]
        if not 0 < config.base_vocab_size <= rows or config.vocab_size <= config.base_vocab_size:
            raise ValueError(
                f"base_vocab_size={config.base_vocab_size} / vocab_size={config.vocab_size} do "
                f"not fit a model with {rows} token rows; build with GlyphAdaptedLM.from_tokenizer"
            )
        n, d = (
            config.vocab_size - config.base_vocab_size,
            net.get_input_embeddings().weight.shape[1],
        )
        tied = net.get_output_embeddings().weight is net.get_input_embeddings().weight
        self.tied_base = tied
        self.new_in = nn.Parameter(torch.zeros(n, d))
        separate_out = not tied or config.init in OFFSET_INITS
        self.new_out = nn.Parameter(torch.zeros(n, d)) if separate_out else None
        self.new_offset = nn.Parameter(torch.zeros(n)) if config.init in OFFSET_INITS else None
        base = config.base_vocab_size
        self.base_offset = nn.Parameter(torch.zeros(base)) if config.init == "split" else None
        self.max_positions = max_positions_of(net.config)
        self._scored: tuple[tuple, torch.Tensor] | None = None  # (expansions, base log-probs)
        self.net = self._wrap(net)

    def _wrap(self, net: nn.Module) -> nn.Module:
        if self.config.adapter == "full":
            return net
        net.requires_grad_(False)
        if self.config.adapter == "new_rows":
            return net
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=self.config.lora_r,
            lora_alpha=self.config.lora_alpha,
            lora_dropout=self.config.lora_dropout,
            target_modules=lora_targets(net, self.config.lora_targets),
            fan_in_fan_out=net.config.model_type == "gpt2",  # GPT-2's Conv1D stores W^T
        )
        return get_peft_model(net, lora)

    @property
    def hf(self) -> nn.Module:
        """The transformers model (LoRA layers injected when ``adapter == "lora"``)."""
        return self.net.get_base_model() if self.config.adapter == "lora" else self.net

    @classmethod
    def from_tokenizer(cls, options: dict[str, Any], tokenizer: Any) -> GlyphAdaptedLM:
        """Build for a `HybridTokenizer` and initialise the new rows from ``options["init"]``.

        Raises:
            TypeError: not a hybrid tokenizer.
            ValueError: the tape's base tokenizer is not the model's (see `check_tape_base`).
        """
        check_base_dir(options.get("path", ""), options.get("base_fingerprint"))
        check_tape_base(options.get("path", ""), tokenizer)
        options = {
            **options,
            "vocab_size": tokenizer.vocab_size,
            "base_vocab_size": tokenizer.base.vocab_size,
        }
        model = cls(build_config(cls, options))
        model.init_new_rows(tokenizer)
        return model

    @torch.no_grad()
    def init_new_rows(self, tokenizer: Any, counts: torch.Tensor | None = None) -> None:
        """Set the new rows by ``config.init`` from the tokenizer's expansions (and, for
        ``split``, the (V,) id counts of the training text when given)."""
        b = self.config.base_vocab_size
        table = new_row_expansions(tokenizer)
        expansions = [table.get(b + i) or [0] for i in range(self.new_in.shape[0])]
        hf = self.hf
        in_w = hf.get_input_embeddings().weight[:b]
        out_w = None if self.tied_base else hf.get_output_embeddings().weight[:b]

        def scorer(exps: list[list[int]]) -> torch.Tensor:
            # the base model's scores, computed once: `init_from_data` re-initialises before
            # training with the same expansions and the same base weights
            key = tuple(map(tuple, exps))
            if self._scored is None or self._scored[0] != key:
                logprob = expansion_logprob(hf, exps, tokenizer.base.eos_id, self.max_positions)
                self._scored = (key, logprob)
            return self._scored[1]

        rows = new_rows(
            self.config.init,
            in_w,
            out_w,
            expansions,
            std=float(getattr(hf.config, "initializer_range", 0.02)),
            seed=self.config.seed,
            expansion_logprob=scorer,
            counts=counts,
        )
        self.new_in.copy_(rows.inp)
        if self.new_out is not None:
            self.new_out.copy_(rows.out if rows.out is not None else rows.inp)
        if self.new_offset is not None and rows.offset is not None:
            self.new_offset.copy_(rows.offset)
        if self.base_offset is not None and rows.base_offset is not None:
            self.base_offset.copy_(rows.base_offset)

    def init_from_data(self, train_ids: Any, tokenizer: Any) -> None:
        """Before training from scratch: re-initialise the new rows with the id counts of the
        training split (``train_ids``, any integer array); only ``split`` uses them."""
        if self.config.init != "split":
            return
        ids = torch.as_tensor(np.asarray(train_ids), dtype=torch.long).flatten()
        self.init_new_rows(tokenizer, torch.bincount(ids, minlength=self.config.vocab_size))

    def no_decay_parameters(self) -> list[nn.Parameter]:
        """Embedding matrices (base input/output, positions, new rows) and the logit offsets: never
        weight-decayed."""
        found = [m.weight for m in self.hf.modules() if isinstance(m, nn.Embedding)]
        found.append(self.hf.get_output_embeddings().weight)
        new = (self.new_in, self.new_out, self.new_offset, self.base_offset)
        return found + [p for p in new if p is not None]

    def hidden_states(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, T) hybrid ids -> (B, T, D) final hidden states of the backbone."""
        if input_ids.shape[-1] > self.max_positions:
            raise ValueError(
                f"sequence length {input_ids.shape[-1]} exceeds the base model's "
                f"{self.max_positions} positions; lower data.block_size"
            )
        b = self.config.base_vocab_size
        hf = self.hf
        is_new = input_ids >= b
        x = hf.get_input_embeddings()(input_ids.masked_fill(is_new, 0))
        new = F.embedding((input_ids - b).clamp_min(0), self.new_in)
        x = torch.where(is_new.unsqueeze(-1), new.to(x.dtype), x)
        return hf.base_model(inputs_embeds=x, use_cache=False).last_hidden_state

    def forward(self, input_ids: torch.Tensor) -> LMOutput:
        h = self.hidden_states(input_ids)
        base = self.hf.get_output_embeddings()(h)[..., : self.config.base_vocab_size]
        if self.base_offset is not None:
            base = base + self.base_offset
        out = self.new_in if self.new_out is None else self.new_out
        new = h @ out.T  # (B, T, N)
        if self.new_offset is not None:
            new = new + self.new_offset
        logits = torch.cat([base, new], dim=-1)
        return LMOutput(logits, logits.new_zeros(()), {})


def check_tape_base(path: str, tokenizer: Any) -> None:
    """The hybrid tokenizer's base must be the model directory's tokenizer.

    Raises:
        TypeError: not a `HybridTokenizer`.
        ValueError: the tape was built on another base tokenizer than the model's.
    """
    from polytok.tokenizers.hf_model import model_tokenizer

    if not hasattr(tokenizer, "tape") or not hasattr(tokenizer, "expand"):
        raise TypeError(
            f"glyph_adapt needs a HybridTokenizer (a glyph tape), got {type(tokenizer).__name__}"
        )
    directory = resolve_model_dir(path)
    own = model_tokenizer(directory)
    if own.to_spec() != tokenizer.base.to_spec():
        raise ValueError(
            f"the tape {str(tokenizer.tape.path)!r} was built on base tokenizer "
            f"{tokenizer.base.name!r}, but the model in {str(directory)!r} uses "
            f"{getattr(own, 'name', type(own).__name__)!r}; build the tape on the model's "
            f"tokenizer (polytok tape build --base {getattr(own, 'name', '...')} ...)"
        )


@torch.no_grad()
def expansion_logprob(
    net: nn.Module, expansions: list[list[int]], bos: int | None, max_positions: int
) -> torch.Tensor:
    """(N,) ``log p(t_2..t_n | [bos,] t_1)`` of each expansion under ``net`` (0 for one token)."""
    start = [bos] if bos is not None else []
    seqs = [start + list(e)[: max_positions - len(start)] for e in expansions]
    out = torch.zeros(len(seqs))
    device = next(net.parameters()).device
    for lo in range(0, len(seqs), 256):
        chunk = seqs[lo : lo + 256]
        width = max(len(s) for s in chunk)
        ids = torch.zeros(len(chunk), width, dtype=torch.long)
        for i, s in enumerate(chunk):
            ids[i, : len(s)] = torch.tensor(s)
        logp = torch.log_softmax(net(input_ids=ids.to(device)).logits.float(), -1)  # (n, W, V)
        tok = logp[:, :-1].gather(-1, ids[:, 1:, None].to(device)).squeeze(-1).cpu()  # (n, W-1)
        for i, s in enumerate(chunk):
            out[lo + i] = tok[i, len(start) : len(s) - 1].sum()  # skip p(t_1 | bos)
    return out

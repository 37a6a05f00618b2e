"""`LanguageModelSystem`: trains any polytok causal LM with Lightning.

AdamW (Loshchilov & Hutter, 2019) with weight decay on matrices only; linear warmup then cosine
decay (Loshchilov & Hutter, 2017), a golden-ratio decay ``lr = base * phi^(-step / warmup)``, or a
constant rate; gradient-norm clipping. Validation reports ``val/bpb``, bits per UTF-8 byte
(``loss / ln 2 / bytes_per_token``), so models on different tokenizers compare fairly.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_only

import polytok.catalog  # noqa: F401  (every built-in model and tokenizer type, for any checkpoint)
from polytok.generation import SamplingConfig, generate
from polytok.models import build_model
from polytok.models.base import IGNORE_INDEX, as_lm_output
from polytok.systems.checkpoint import WeightsOnlyLoad
from polytok.systems.optim import SCHEDULES, ScheduledAdamW
from polytok.tokenizers.base import TextTokenizer, tokenizer_from_spec

log = logging.getLogger(__name__)


class LanguageModelSystem(WeightsOnlyLoad, ScheduledAdamW, L.LightningModule):
    """Causal language modelling for any model registered in `polytok.models.MODELS`.

    Args:
        model: ``{"name": "gpt2" | "resoformer" | ..., **options}``.
        tokenizer: the tokenizer, or its spec (``tokenizer.to_spec()``, as a checkpoint holds it);
            the vocabulary follows it. A tokenizer object is used as is (built once) and its spec
            is what the hyperparameters record.
        data: the data config, kept so ``eval.py`` can rebuild the same test split.
        lr: peak learning rate. betas: AdamW betas. weight_decay: applied to matrices only.
        warmup_steps: linear warmup (cosine/constant) or the golden decay's time constant.
        max_steps: length of the cosine schedule. min_lr_ratio: floor as a fraction of ``lr``.
        lr_schedule: ``"cosine"``, ``"golden"`` or ``"constant"``.
        grad_clip: max global gradient norm (``1/phi`` ~ 0.618 for the golden recipe); 0 = off.
        sample_prompt / sample_tokens / sample_seed: the sample generated at each validation.
    """

    def __init__(
        self,
        model: dict[str, Any],
        tokenizer: dict[str, Any] | TextTokenizer,
        data: dict[str, Any] | None = None,
        lr: float = 1e-3,
        betas: tuple[float, float] | list[float] = (0.9, 0.99),
        weight_decay: float = 0.1,
        warmup_steps: int = 100,
        max_steps: int = 2000,
        min_lr_ratio: float = 0.1,
        lr_schedule: str = "cosine",
        grad_clip: float = 1.0,
        sample_prompt: str = "\n",
        sample_tokens: int = 100,
        sample_seed: int = 0,
    ) -> None:
        super().__init__()
        if lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {lr_schedule!r}")
        valid = 0 < lr < math.inf and max_steps > 0 and warmup_steps >= 0 and grad_clip >= 0
        if not valid:  # written so that NaN fails too
            raise ValueError(
                f"need lr > 0, max_steps > 0, warmup_steps >= 0, grad_clip >= 0; got lr={lr}, "
                f"max_steps={max_steps}, warmup_steps={warmup_steps}, grad_clip={grad_clip}"
            )
        if not 0.0 <= min_lr_ratio <= 1.0:
            raise ValueError(f"min_lr_ratio must be in [0, 1], got {min_lr_ratio}")
        betas = [float(b) for b in betas]  # a list keeps the checkpoint's hparams primitive
        built = None if isinstance(tokenizer, dict) else tokenizer
        tokenizer = tokenizer if built is None else built.to_spec()  # hparams: primitives only
        self.save_hyperparameters()
        self.tokenizer = built if built is not None else tokenizer_from_spec(tokenizer)
        self.model = build_model(model, self.tokenizer)
        self._tick: float | None = None
        self._eval_sums: dict[str, torch.Tensor] = {}  # split -> (2,) [sum of ce * n, n] on device

    def no_decay_parameters(self):
        """Matrices the model asks to keep free of weight decay (e.g. embeddings when fine-tuning)."""
        own = getattr(self.model, "no_decay_parameters", None)
        return own() if callable(own) else ()

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> (B, T, V) logits."""
        return as_lm_output(self.model(input_ids)).logits

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor]):
        x, y = batch  # (B, T), (B, T)
        out = as_lm_output(self.model(x))
        ce = F.cross_entropy(out.logits.flatten(0, 1).float(), y.flatten())
        return ce, out

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        ce, out = self._step(batch)
        loss = ce + out.aux_loss
        self.log("train/loss", ce, prog_bar=True)
        if out.aux_loss.requires_grad:  # a model with an auxiliary objective (no host sync)
            self.log("train/aux_loss", out.aux_loss)
        for key, value in out.metrics.items():
            self.log(f"train/{key}", value)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        now = time.perf_counter()
        if self._tick is not None:
            tokens = batch[0].numel() * self.trainer.world_size
            self.log("train/tokens_per_s", tokens / max(now - self._tick, 1e-9), prog_bar=True)
        self._tick = now

    def _eval_step(self, batch, split: str) -> None:
        ce, out = self._step(batch)
        n = (batch[1] != IGNORE_INDEX).sum().to(ce.dtype)  # the last window of a split is padded
        # a fully padded batch has ce = nan and n = 0: it adds nothing (kept on device, no sync)
        step = torch.stack([torch.where(n > 0, ce.detach() * n, 0.0), n])  # (2,) float32
        if split in self._eval_sums:
            self._eval_sums[split] += step
        else:
            self._eval_sums[split] = step
        for key, value in out.metrics.items():
            self.log(f"{split}/{key}", value)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def _eval_epoch_end(self, split: str) -> None:
        """Token-weighted mean loss over every rank's batches (float32 sums; one host read per
        epoch). Every rank joins the all-gather, also one that saw no batch."""
        stats = self._eval_sums.pop(split, None)
        if stats is None:
            stats = torch.zeros(2, device=self.device)
        if self.trainer.world_size > 1:
            stats = self.all_gather(stats).reshape(-1, 2).sum(0)  # (world, 2) -> (2,)
        if float(stats[1]) == 0:  # once per epoch: nothing was evaluated
            return
        loss = stats[0] / stats[1]  # the same on every rank: sync_dist averages equal values
        self.log(f"{split}/loss", loss, prog_bar=True, sync_dist=True)
        self.log(f"{split}/ppl", loss.clamp(max=50.0).exp(), sync_dist=True)
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None and hasattr(datamodule, "bytes_per_token"):
            bpb = loss / math.log(2) / datamodule.bytes_per_token(split)
            self.log(f"{split}/bpb", bpb, prog_bar=True, sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")
        if not self.trainer.sanity_checking and self.hparams.sample_tokens > 0:
            self._log_sample()

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def sample(self, prompt: str, max_new_tokens: int, seed: int = 0, **sampling: Any) -> str:
        """Generate a continuation of ``prompt`` as text (prompt excluded)."""
        ids = self.tokenizer.encode(prompt)
        if not ids:
            start = self.tokenizer.eos_id if self.tokenizer.eos_id is not None else 0
            ids = [start]
        x = torch.tensor([ids], dtype=torch.long, device=self.device)
        out = generate(self.model, x, max_new_tokens, SamplingConfig(**sampling), seed=seed)
        return self.tokenizer.decode(out[0, len(ids) :].tolist())

    @rank_zero_only
    def _log_sample(self) -> None:
        text = self.sample(
            self.hparams.sample_prompt, self.hparams.sample_tokens, self.hparams.sample_seed
        )
        log.info("sample at step %d: %r", self.global_step, text)
        experiment = getattr(self.logger, "experiment", None)
        if experiment is not None and hasattr(experiment, "add_text"):
            experiment.add_text("val/sample", text, self.global_step)

"""`CrossEncoderSystem`: fine-tunes a `CrossEncoderScorer` on sentence highlight labels.

Loss per (paper, aspect) group: the listwise softmax cross-entropy of ListNet (Cao et al., 2007)
against the uniform distribution over the group's highlighted sentences, plus ``bce_weight``
times the pointwise binary cross-entropy. Validation reports ``val/recall``: the share of
highlighted sentences kept when each validation paper is cut to ``val_ratio`` of its words by
taking sentences in score order (skipping those that no longer fit), the quantity the compressor
is judged on, and ``val/loss``.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from polytok.compress.cross_encoder import CrossEncoderConfig, CrossEncoderScorer
from polytok.systems.optim import SCHEDULES, ScheduledAdamW, lr_factor

_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "absolute", "relative")


def listwise_loss(
    logits: torch.Tensor, labels: torch.Tensor, group: torch.Tensor, num_groups: int
) -> torch.Tensor:
    """Mean over groups with a positive of ``-mean_{i in pos} log softmax_group(logits)_i``.

    Args:
        logits, labels: (N,) scores and 0/1 labels; group: (N,) group index in [0, num_groups).
    """
    gmax = logits.new_full((num_groups,), float("-inf"))
    gmax = gmax.scatter_reduce(0, group, logits.detach(), "amax")  # (G,)
    shifted = logits - gmax[group]  # (N,)
    denom = logits.new_zeros(num_groups).index_add(0, group, shifted.exp())  # (G,)
    logp = shifted - denom.log()[group]  # (N,) log softmax within the group
    positives = logits.new_zeros(num_groups).index_add(0, group, labels)  # (G,)
    per_group = -logits.new_zeros(num_groups).index_add(0, group, labels * logp)
    has = (positives > 0).to(logits.dtype)
    return (per_group / positives.clamp_min(1) * has).sum() / has.sum().clamp_min(1)


def budget_recall(scores: torch.Tensor, labels: torch.Tensor, cost: torch.Tensor, ratio: float):
    """Share of positives kept by a greedy fill in score order within ``ratio`` of total cost."""
    budget = float(cost.sum()) * ratio
    kept, used = 0.0, 0.0
    for i in torch.argsort(scores, descending=True).tolist():
        if used + float(cost[i]) <= budget:
            used += float(cost[i])
            kept += float(labels[i])
    total = float(labels.sum())
    return kept / total if total else None


class CrossEncoderSystem(ScheduledAdamW, L.LightningModule):
    """Fine-tunes a cross-encoder scorer.

    Args:
        encoder_dir: local encoder directory (None: all-MiniLM-L6-v2 via `polytok.assets`).
        scorer: `CrossEncoderConfig` fields.
        freeze_layers: the embeddings and this many lowest encoder layers stay frozen.
        bce_weight: weight of the pointwise BCE next to the listwise loss.
        head_lr: learning rate of the new parts (scoring head, position biases); the encoder
            fine-tunes at ``lr``.
        val_ratio: word budget of ``val/recall``.
        lr, betas, weight_decay, warmup_steps, max_steps, min_lr_ratio, lr_schedule, grad_clip:
            the `ScheduledAdamW` recipe.
    """

    def __init__(
        self,
        encoder_dir: str | None = None,
        scorer: dict[str, Any] | None = None,
        freeze_layers: int = 0,
        bce_weight: float = 0.5,
        head_lr: float = 3e-3,
        val_ratio: float = 0.2,
        lr: float = 3e-5,
        betas: tuple[float, float] | list[float] = (0.9, 0.999),
        weight_decay: float = 0.01,
        warmup_steps: int = 20,
        max_steps: int = 300,
        min_lr_ratio: float = 0.1,
        lr_schedule: str = "cosine",
        grad_clip: float = 1.0,
    ) -> None:
        super().__init__()
        if lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {lr_schedule!r}")
        if lr <= 0 or max_steps <= 0 or freeze_layers < 0 or bce_weight < 0:
            raise ValueError(
                f"need lr > 0, max_steps > 0, freeze_layers >= 0, bce_weight >= 0; got lr={lr}, "
                f"max_steps={max_steps}, freeze_layers={freeze_layers}, bce_weight={bce_weight}"
            )
        betas = [float(b) for b in betas]
        self.save_hyperparameters()
        config = CrossEncoderConfig(**(scorer or {}))
        self.model = CrossEncoderScorer.from_encoder(encoder_dir, config)
        self._freeze(freeze_layers)
        self._val: list[float] = []

    def _freeze(self, num_layers: int) -> None:
        encoder = self.model.encoder
        if num_layers <= 0:
            return
        layers = encoder.encoder.layer
        if num_layers > len(layers):
            raise ValueError(f"freeze_layers={num_layers} exceeds the {len(layers)} layers")
        for module in [encoder.embeddings, *layers[:num_layers]]:
            module.requires_grad_(False)

    def configure_optimizers(self):
        """AdamW: the encoder at ``lr`` (decay on matrices), the new head at ``head_lr``."""
        hp = self.hparams
        new = [p for n, p in self.model.named_parameters() if not n.startswith("encoder.")]
        decay, no_decay = [], []
        for param in self.model.encoder.parameters():
            if param.requires_grad:
                (decay if param.ndim >= 2 else no_decay).append(param)
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": hp.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
                {"params": new, "weight_decay": 0.0, "lr": hp.head_lr},
            ],
            lr=hp.lr,
            betas=tuple(hp.betas),
        )

        def factor(step: int) -> float:
            return lr_factor(step, hp.lr_schedule, hp.warmup_steps, hp.max_steps, hp.min_lr_ratio)

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def _logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model(**{k: batch[k] for k in _INPUTS if k in batch})

    def _loss(self, batch: dict[str, torch.Tensor], logits: torch.Tensor) -> torch.Tensor:
        num_groups = int(batch["group"][-1]) + 1  # groups are numbered in order (a CPU tensor)
        listwise = listwise_loss(logits, batch["labels"], batch["group"], num_groups)
        bce = F.binary_cross_entropy_with_logits(logits, batch["labels"])
        return listwise + self.hparams.bce_weight * bce

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        logits = self._logits(batch)
        loss = self._loss(batch, logits)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(logits))
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        logits = self._logits(batch)
        self.log("val/loss", self._loss(batch, logits), batch_size=1)
        recall = budget_recall(
            logits.float().cpu(),
            batch["labels"].cpu(),
            batch["words"].cpu(),
            self.hparams.val_ratio,
        )
        if recall is not None:
            self._val.append(recall)

    def on_validation_epoch_end(self) -> None:
        values = self._val or [0.0]
        self.log("val/recall", sum(values) / len(values), prog_bar=True)
        self._val = []

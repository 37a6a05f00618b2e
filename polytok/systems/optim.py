"""The optimisation recipe shared by polytok's LightningModules.

`ScheduledAdamW` gives a LightningModule ``configure_optimizers`` and ``configure_gradient_clipping``
from its hyperparameters (``lr``, ``betas``, ``weight_decay``, ``warmup_steps``, ``max_steps``,
``min_lr_ratio``, ``lr_schedule``, ``grad_clip``): AdamW (Loshchilov & Hutter, 2019) with weight
decay on matrices only, a per-step `lr_factor` schedule, and global-norm clipping.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from polytok.nn.golden import PHI

SCHEDULES = ("cosine", "golden", "constant", "step")


def lr_factor(
    step: int,
    schedule: str,
    warmup_steps: int,
    max_steps: int,
    min_lr_ratio: float,
    step_size: int | None = None,
    gamma: float = 0.5,
) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based).

    "step" multiplies the rate by ``gamma`` every ``step_size`` steps after the warm-up
    (default ``step_size``: a third of the steps after warm-up).
    """
    if schedule == "golden":
        # phi^(-step / warmup): the rate falls by 1/phi every `warmup_steps`, floored.
        return max(PHI ** (-step / max(warmup_steps, 1)), min_lr_ratio)
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    if schedule == "step":
        size = step_size or max((max_steps - warmup_steps) // 3, 1)
        return gamma ** ((step - warmup_steps) // size)
    progress = min((step - warmup_steps) / max(max_steps - warmup_steps, 1), 1.0)
    return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class ScheduledAdamW:
    """Mixin for a LightningModule with ``self.model`` and the hyperparameters listed above."""

    def no_decay_parameters(self) -> Iterable[torch.nn.Parameter]:
        """Matrices that must not decay (e.g. VQ codebooks); vectors never decay anyway."""
        return ()

    def configure_optimizers(self):
        hp = self.hparams
        keep = {id(p) for p in self.no_decay_parameters()}
        decay, no_decay = [], []
        for param in self.model.parameters():
            if param.requires_grad:
                (decay if param.ndim >= 2 and id(param) not in keep else no_decay).append(param)
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": hp.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=hp.lr,
            betas=tuple(hp.betas),
            fused=self.device.type == "cuda",
        )

        def factor(step: int) -> float:
            return lr_factor(
                step,
                hp.lr_schedule,
                hp.warmup_steps,
                hp.max_steps,
                hp.min_lr_ratio,
                hp.get("lr_step_size"),
                hp.get("lr_gamma", 0.5),
            )

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def configure_gradient_clipping(
        self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None
    ) -> None:
        clip = gradient_clip_val if gradient_clip_val is not None else self.hparams.grad_clip
        if clip:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")

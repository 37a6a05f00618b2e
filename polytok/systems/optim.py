"""The optimisation recipe shared by polytok's LightningModules.

`ScheduledAdamW` gives a LightningModule ``configure_optimizers`` and ``configure_gradient_clipping``
from its hyperparameters (``lr``, ``betas``, ``weight_decay``, ``warmup_steps``, ``max_steps``,
``min_lr_ratio``, ``lr_schedule``, ``grad_clip``): the recipe of `polytok.nn.optim` (AdamW with
weight decay on matrices only, a per-step `lr_factor` schedule) and global-norm clipping. The
plain-PyTorch loop of `polytok.sid.training` uses the same recipe.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from polytok.nn.optim import PHI, SCHEDULES, lr_factor, scheduled_adamw

__all__ = ["PHI", "SCHEDULES", "ScheduledAdamW", "lr_factor"]


class ScheduledAdamW:
    """Mixin for a LightningModule with ``self.model`` and the hyperparameters listed above."""

    def no_decay_parameters(self) -> Iterable[torch.nn.Parameter]:
        """Matrices that must not decay (e.g. VQ codebooks): those the model names in its own
        ``no_decay_parameters()``, if it has one; vectors never decay anyway."""
        own = getattr(self.model, "no_decay_parameters", None)
        return own() if callable(own) else ()

    def configure_optimizers(self):
        hp = self.hparams
        optimizer, scheduler = scheduled_adamw(
            self.model,
            lr=hp.lr,
            betas=hp.betas,
            weight_decay=hp.weight_decay,
            lr_schedule=hp.lr_schedule,
            warmup_steps=hp.warmup_steps,
            max_steps=hp.max_steps,
            min_lr_ratio=hp.min_lr_ratio,
            lr_step_size=hp.get("lr_step_size"),
            lr_gamma=hp.get("lr_gamma", 0.5),
            no_decay=self.no_decay_parameters(),
        )
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

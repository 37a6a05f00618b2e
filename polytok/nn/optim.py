"""The optimisation recipe of every polytok training loop, Lightning or plain PyTorch.

AdamW (Loshchilov & Hutter, 2019) with weight decay on matrices only (minus the matrices a model
keeps from decaying, such as VQ codebooks), a per-step `lr_factor` schedule, and global-norm
gradient clipping (applied by the loop). `polytok.systems.optim.ScheduledAdamW` gives
LightningModules this recipe; `polytok.sid.training` uses it directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from polytok.nn.golden import PHI

SCHEDULES = ("cosine", "golden", "constant", "step")
__all__ = ["PHI", "SCHEDULES", "check_recipe", "lr_factor", "scheduled_adamw"]


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


def check_recipe(
    lr: float, max_steps: int, warmup_steps: int, grad_clip: float, lr_schedule: str
) -> None:
    """Validate the scalars of the recipe.

    Raises:
        ValueError: a non-positive (or NaN) learning rate or run length, a negative warm-up or
            clip, an unknown schedule.
    """
    valid = 0 < lr < math.inf and max_steps > 0 and warmup_steps >= 0 and grad_clip >= 0
    if not valid:  # written so that NaN fails too
        raise ValueError(
            f"need lr > 0, max_steps > 0, warmup_steps >= 0, grad_clip >= 0; got lr={lr}, "
            f"max_steps={max_steps}, warmup_steps={warmup_steps}, grad_clip={grad_clip}"
        )
    if lr_schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {lr_schedule!r}")


def scheduled_adamw(
    model: nn.Module,
    *,
    lr: float,
    betas: Iterable[float],
    weight_decay: float,
    lr_schedule: str,
    warmup_steps: int,
    max_steps: int,
    min_lr_ratio: float,
    lr_step_size: int | None = None,
    lr_gamma: float = 0.5,
    no_decay: Iterable[nn.Parameter] = (),
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over ``model``'s trainable parameters and its per-step `lr_factor` scheduler.

    Matrices decay by ``weight_decay``; vectors and the matrices in ``no_decay`` do not. The
    scheduler is stepped once per optimiser step. Fused AdamW on CUDA.
    """
    keep = {id(p) for p in no_decay}
    decay, other = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 and id(param) not in keep else other).append(param)
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}],
        lr=lr,
        betas=tuple(betas),
        fused=device.type == "cuda",
    )

    def factor(step: int) -> float:
        return lr_factor(
            step, lr_schedule, warmup_steps, max_steps, min_lr_ratio, lr_step_size, lr_gamma
        )

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

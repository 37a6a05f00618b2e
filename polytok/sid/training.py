"""Training an `RQVAE` in plain PyTorch: the one definition of its data order, loss and recipe.

`RQVAE.fit` runs `train_rqvae`. The Lightning `polytok.systems.rqvae.RQVAESystem` (Hydra task
``rqvae``: loggers, checkpoints, DDP) reuses its parts, so both paths train the same way:
`split_rows` (the deterministic validation split), `batches` (the seeded shuffle), the model's loss
(`RQVAE.forward`), `EpochHistory` (``history_``), the recipe constants below and the optimiser
`polytok.nn.optim.scheduled_adamw` with the codebooks kept free of weight decay
(`RQVAE.no_decay_parameters`).
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from polytok.nn.optim import check_recipe, scheduled_adamw

if TYPE_CHECKING:
    from polytok.sid.rqvae import RQVAE, RQVAEOutput

log = logging.getLogger(__name__)

HISTORY_KEYS = ("loss", "recon_loss", "quant_loss", "lr")
BETAS = (0.9, 0.999)  # AdamW betas
MIN_LR_RATIO = 0.1  # final learning rate / peak of the cosine schedule
GRAD_CLIP = 1.0  # max global gradient norm


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (what ``lightning.seed_everything``
    seeds), so dropout, restarts and k-means draws repeat."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def split_rows(x: Tensor, val_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Deterministic (train, val) split of the rows of ``x`` (N, D), both on the CPU.

    Raises:
        ValueError: ``val_fraction`` outside [0, 1).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"need 0 <= val_fraction < 1, got {val_fraction}")
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    n_val = int(x.shape[0] * val_fraction)
    x = x.cpu()
    return x[order[n_val:]], x[order[:n_val]]


def batches(x: Tensor, batch_size: int, seed: int | None = None) -> DataLoader:
    """Batches of rows of ``x``: reshuffled every epoch by a generator seeded once with ``seed``
    (the order repeats for a seed), or in order when ``seed`` is None (validation).

    Raises:
        ValueError: ``batch_size`` < 1.
    """
    if batch_size < 1:
        raise ValueError(f"need batch_size >= 1, got {batch_size}")
    if seed is None:
        return DataLoader(TensorDataset(x), batch_size=batch_size)
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(x), batch_size=batch_size, shuffle=True, generator=gen)


class EpochHistory:
    """Per-epoch means of the training losses and the learning rate at each epoch's end.

    The sums stay on the device; `end_epoch` syncs with the host once per epoch.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
        self._sums: Tensor | None = None  # running (loss, recon, quant, batches)

    def add(self, out: RQVAEOutput) -> None:
        """Count one training batch's losses."""
        sums = torch.stack([out.loss.detach(), out.recon_loss.detach(), out.quant_loss.detach(),
                            out.loss.new_ones(())])  # fmt: skip
        self._sums = sums if self._sums is None else self._sums + sums

    def end_epoch(self, lr: float) -> None:
        """Append the epoch's means and ``lr``; nothing when no batch was counted."""
        if self._sums is None:
            return
        loss, recon, quant, count = self._sums.tolist()
        self._sums = None
        for key, value in zip(HISTORY_KEYS, (loss / count, recon / count, quant / count, lr)):
            self.history[key].append(float(value))


@torch.no_grad()
def validation_loss(model: RQVAE, loader: DataLoader) -> float:
    """Mean batch loss over ``loader`` in eval mode (the training mode is restored)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    losses = [model(x.to(device)).loss for (x,) in loader]
    model.train(was_training)
    return float(torch.stack(losses).mean())


def train_rqvae(
    model: RQVAE,
    x: Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    val_fraction: float,
    seed: int,
    lr_schedule: str,
    warmup_epochs: float,
    lr_step_size: float | None,
    lr_gamma: float,
    log_epochs: bool = False,
) -> dict[str, list[float]]:
    """Train ``model`` on the rows of ``x`` (N, in_dim) on the model's device; returns the history.

    Per step: loss of a batch, backward, global-norm clipping at `GRAD_CLIP`, an AdamW step and a
    scheduler step. Schedule lengths in epochs (``warmup_epochs``, ``lr_step_size``: default a
    third of the run) become steps. The history holds `HISTORY_KEYS` per epoch, plus
    ``val_loss`` when ``val_fraction`` holds rows out.
    """
    train_x, val_x = split_rows(x, val_fraction, seed)
    loader = batches(train_x, batch_size, seed)
    per_epoch = len(loader)
    warmup_steps = int(warmup_epochs * per_epoch)
    check_recipe(lr, epochs * per_epoch, warmup_steps, GRAD_CLIP, lr_schedule)
    optimizer, scheduler = scheduled_adamw(
        model,
        lr=lr,
        betas=BETAS,
        weight_decay=weight_decay,
        lr_schedule=lr_schedule,
        warmup_steps=warmup_steps,
        max_steps=epochs * per_epoch,
        min_lr_ratio=MIN_LR_RATIO,
        lr_step_size=int((lr_step_size or max(epochs / 3, 1)) * per_epoch),
        lr_gamma=lr_gamma,
        no_decay=model.no_decay_parameters(),
    )
    val = batches(val_x, batch_size) if len(val_x) else None
    history = EpochHistory()
    model.train()
    for epoch in range(epochs):
        _train_epoch(model, loader, optimizer, scheduler, history)
        history.end_epoch(optimizer.param_groups[0]["lr"])
        if val is not None:
            history.history.setdefault("val_loss", []).append(validation_loss(model, val))
        if log_epochs:
            log.info("RQVAE epoch %d: %s", epoch, {k: v[-1] for k, v in history.history.items()})
    return history.history


def _train_epoch(model, loader, optimizer, scheduler, history: EpochHistory) -> None:
    """One pass over ``loader``: one optimiser and one scheduler step per batch."""
    device = next(model.parameters()).device
    # Take exactly len(loader) batches, as Lightning does: asking for one more would run the
    # sampler to its end, drawing one more permutation from the shared generator, and change the
    # order of every later epoch (the RQVAESystem path and earlier versions would then differ).
    for _, (x,) in zip(range(len(loader)), loader):
        out = model(x.to(device))
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(
            [p for group in optimizer.param_groups for p in group["params"]], GRAD_CLIP
        )
        optimizer.step()
        scheduler.step()
        history.add(out)

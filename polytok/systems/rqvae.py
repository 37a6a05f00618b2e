"""`RQVAESystem` (LightningModule) and `VectorDataModule` for training `RQVAE`.

AdamW (Loshchilov & Hutter, 2019) with the learning-rate schedules of
`polytok.systems.optim.lr_factor`. Logs ``train/loss``, ``train/recon_loss``, ``train/quant_loss``,
``train/code_usage``; the same under ``val/`` when a validation split exists, plus per level
``val/usage_l{i}`` / ``val/perplexity_l{i}``.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from polytok.sid.rqvae import RQVAE
from polytok.systems.checkpoint import WeightsOnlyLoad
from polytok.systems.optim import SCHEDULES, ScheduledAdamW

HISTORY_KEYS = ("loss", "recon_loss", "quant_loss", "lr")


def trainer_device(device: torch.device) -> tuple[str, Any]:
    """Lightning ``(accelerator, devices)`` for a torch device."""
    if device.type == "cuda":
        return "gpu", [device.index or 0]
    if device.type == "mps":
        return "mps", 1
    return "cpu", 1


class VectorDataModule(L.LightningDataModule):
    """Batches of rows of a (N, D) tensor; an optional deterministic validation split.

    Args:
        x: (N, D) float tensor.
        batch_size: rows per batch.
        val_fraction: share of rows held out for validation (0 = none).
        seed: shuffling / split seed.
    """

    def __init__(self, x: Tensor, batch_size: int = 1024, val_fraction: float = 0.0, seed: int = 0):
        super().__init__()
        if not 0.0 <= val_fraction < 1.0 or batch_size < 1:
            raise ValueError(
                f"need 0 <= val_fraction < 1 and batch_size >= 1, got {val_fraction}, {batch_size}"
            )
        gen = torch.Generator().manual_seed(seed)
        order = torch.randperm(x.shape[0], generator=gen)
        n_val = int(x.shape[0] * val_fraction)
        self.val = x.cpu()[order[:n_val]]
        self.train_x = x.cpu()[order[n_val:]]
        self.batch_size, self.seed = batch_size, seed

    def train_dataloader(self) -> DataLoader:
        gen = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            TensorDataset(self.train_x), batch_size=self.batch_size, shuffle=True, generator=gen
        )

    def val_dataloader(self) -> DataLoader | list:
        if not len(self.val):
            return []
        return DataLoader(TensorDataset(self.val), batch_size=self.batch_size)


class RQVAESystem(WeightsOnlyLoad, ScheduledAdamW, L.LightningModule):
    """Trains an `RQVAE` built from the primitive ``model`` dict (`RQVAEConfig` fields).

    Args:
        model: `RQVAEConfig` fields.
        lr: peak learning rate.
        betas: AdamW betas.
        weight_decay: AdamW weight decay on matrices.
        warmup_steps: linear warmup steps.
        max_steps: schedule length.
        min_lr_ratio: final learning rate / peak.
        lr_schedule: "cosine", "golden", "constant" or "step".
        grad_clip: max global gradient norm; 0 = off.
        lr_step_size: steps per decay of the "step" schedule (None: a third of the run).
        lr_gamma: decay factor of the "step" schedule.
        module: train this existing `RQVAE` instead of a new one (not a hyperparameter).
    """

    def __init__(
        self,
        model: dict,
        lr: float = 1e-3,
        betas: tuple[float, float] | list[float] = (0.9, 0.999),
        weight_decay: float = 1e-4,
        warmup_steps: int = 0,
        max_steps: int = 1000,
        min_lr_ratio: float = 0.1,
        lr_schedule: str = "cosine",
        grad_clip: float = 1.0,
        lr_step_size: int | None = None,
        lr_gamma: float = 0.5,
        module: RQVAE | None = None,
    ) -> None:
        super().__init__()
        valid = 0 < lr < math.inf and max_steps > 0 and warmup_steps >= 0 and grad_clip >= 0
        if not valid:  # written so that NaN fails too
            raise ValueError(
                f"need lr > 0, max_steps > 0, warmup_steps >= 0, grad_clip >= 0; got lr={lr}, "
                f"max_steps={max_steps}, warmup_steps={warmup_steps}, grad_clip={grad_clip}"
            )
        if lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {lr_schedule!r}")
        self.save_hyperparameters(ignore=["module"])
        self.model = module if module is not None else RQVAE(**model)
        self.history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
        self._epoch_sums: Tensor | None = None  # running (loss, recon, quant, batches) on device

    def _step(self, batch, stage: str) -> Tensor:
        (x,) = batch
        out = self.model(x)
        size = x.shape[0]
        on_step = stage == "train"
        self.log(f"{stage}/loss", out.loss, prog_bar=True, batch_size=size, on_step=on_step)
        self.log(f"{stage}/recon_loss", out.recon_loss, batch_size=size, on_step=on_step)
        self.log(f"{stage}/quant_loss", out.quant_loss, batch_size=size, on_step=on_step)
        self.log(f"{stage}/code_usage", out.usage.mean(), batch_size=size, on_step=on_step)
        if on_step:  # per-level figures at validation only: each log call costs ~2 ms on CPU
            sums = torch.stack([out.loss.detach(), out.recon_loss.detach(), out.quant_loss.detach(),
                                out.loss.new_ones(())])  # fmt: skip
            self._epoch_sums = sums if self._epoch_sums is None else self._epoch_sums + sums
            return out.loss
        for i in range(out.usage.shape[0]):
            self.log(f"{stage}/usage_l{i}", out.usage[i], batch_size=size, on_step=on_step)
            self.log(
                f"{stage}/perplexity_l{i}", out.perplexity[i], batch_size=size, on_step=on_step
            )
        return out.loss

    def on_fit_start(self) -> None:
        """k-means codebook initialisation on the whole training set (not just one batch)."""
        data = self.trainer.datamodule
        if isinstance(data, VectorDataModule) and not self.model.is_fitted:
            self.model.init_codebooks(data.train_x.to(self.device), data.batch_size)

    def on_train_epoch_end(self) -> None:
        """Append the epoch's mean losses and the current learning rate to ``history``."""
        if self._epoch_sums is None:
            return
        loss, recon, quant, batches = self._epoch_sums.tolist()  # one host sync per epoch
        self._epoch_sums = None
        lr = self.trainer.optimizers[0].param_groups[0]["lr"] if self.trainer.optimizers else 0.0
        for key, value in zip(HISTORY_KEYS, (loss / batches, recon / batches, quant / batches, lr)):
            self.history[key].append(float(value))

    def training_step(self, batch, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def no_decay_parameters(self):
        # codebooks are (K, D) matrices but must not decay towards zero
        return [layer.codebook for layer in self.model.rvq.layers]

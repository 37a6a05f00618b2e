"""`RQVAESystem` (LightningModule) and `VectorDataModule` for training `RQVAE` with Lightning.

The training itself is the one of `RQVAE.fit` (`polytok.sid.training`): the same split, batch
order, loss, per-epoch history, recipe constants and AdamW with the schedules of
`polytok.nn.optim.lr_factor` (codebooks free of weight decay); Lightning adds loggers,
checkpoints and several devices. Logs ``train/loss``, ``train/recon_loss``, ``train/quant_loss``,
``train/code_usage``; the same under ``val/`` when a validation split exists, plus per level
``val/usage_l{i}`` / ``val/perplexity_l{i}``.
"""

from __future__ import annotations

import lightning as L
from torch import Tensor
from torch.utils.data import DataLoader

from polytok.nn.optim import check_recipe
from polytok.sid.rqvae import RQVAE
from polytok.sid.training import (
    BETAS,
    GRAD_CLIP,
    HISTORY_KEYS,
    MIN_LR_RATIO,
    EpochHistory,
    batches,
    split_rows,
)
from polytok.systems.checkpoint import WeightsOnlyLoad
from polytok.systems.optim import ScheduledAdamW

__all__ = ["HISTORY_KEYS", "RQVAESystem", "VectorDataModule"]


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
        self.train_x, self.val = split_rows(x, val_fraction, seed)
        self.batch_size, self.seed = batch_size, seed

    def train_dataloader(self) -> DataLoader:
        return batches(self.train_x, self.batch_size, self.seed)

    def val_dataloader(self) -> DataLoader | list:
        return batches(self.val, self.batch_size) if len(self.val) else []


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
        betas: tuple[float, float] | list[float] = BETAS,
        weight_decay: float = 1e-4,
        warmup_steps: int = 0,
        max_steps: int = 1000,
        min_lr_ratio: float = MIN_LR_RATIO,
        lr_schedule: str = "cosine",
        grad_clip: float = GRAD_CLIP,
        lr_step_size: int | None = None,
        lr_gamma: float = 0.5,
        module: RQVAE | None = None,
    ) -> None:
        super().__init__()
        check_recipe(lr, max_steps, warmup_steps, grad_clip, lr_schedule)
        self.save_hyperparameters(ignore=["module"])
        self.model = module if module is not None else RQVAE(**model)
        self.epoch_history = EpochHistory()

    @property
    def history(self) -> dict[str, list[float]]:
        """Per-epoch mean ``loss``, ``recon_loss``, ``quant_loss`` and ``lr`` (as ``history_``)."""
        return self.epoch_history.history

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
            self.epoch_history.add(out)
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
        lr = self.trainer.optimizers[0].param_groups[0]["lr"] if self.trainer.optimizers else 0.0
        self.epoch_history.end_epoch(lr)

    def training_step(self, batch, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

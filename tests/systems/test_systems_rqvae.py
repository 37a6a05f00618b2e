"""RQVAESystem trains exactly as RQVAE.fit's plain loop: one definition of the training."""

from __future__ import annotations

import copy
from dataclasses import asdict

import lightning as L
import pytest
import torch

from polytok.sid import RQVAE
from polytok.sid.inputs import as_matrix, gaussian_mixture
from polytok.sid.training import HISTORY_KEYS, train_rqvae
from polytok.systems.rqvae import RQVAESystem, VectorDataModule


def test_lightning_system_and_plain_loop_give_the_same_history() -> None:
    x = as_matrix(gaussian_mixture(400, 8, 16, seed=3, scale=2, spread=0.2), dim=8)
    plain = RQVAE(in_dim=8, codebook_sizes=[8, 8], e_dim=4, layers=[16], dropout=0.1)
    plain.init_codebooks(x, 100)
    lit = copy.deepcopy(plain)
    torch.manual_seed(5)
    options = {"lr": 2e-3, "weight_decay": 1e-4, "lr_schedule": "step", "lr_gamma": 0.5}
    history = train_rqvae(
        plain, x, epochs=3, batch_size=100, val_fraction=0.0, seed=5, warmup_epochs=0.5,
        lr_step_size=1, **options,
    )  # fmt: skip
    torch.manual_seed(5)
    system = RQVAESystem(
        model=asdict(lit.config), max_steps=12, warmup_steps=2, lr_step_size=4, module=lit,
        **options,
    )  # fmt: skip
    trainer = L.Trainer(
        max_epochs=3, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )  # fmt: skip
    trainer.fit(system, datamodule=VectorDataModule(x, batch_size=100, seed=5))
    assert set(history) == set(system.history) == set(HISTORY_KEYS)
    for key in HISTORY_KEYS:
        assert system.history[key] == pytest.approx(history[key], rel=1e-5), key
    for name, tensor in plain.state_dict().items():
        torch.testing.assert_close(lit.state_dict()[name], tensor, msg=name)


def test_checkpoint_hyperparameters_with_the_old_name_still_build() -> None:
    """Checkpoints written before the rename hold ``model.num_emb_list``."""
    old = {"in_dim": 8, "num_emb_list": [4, 4], "e_dim": 4, "layers": [8]}
    with pytest.warns(DeprecationWarning, match="num_emb_list"):
        system = RQVAESystem(model=old)
    assert system.model.config.codebook_sizes == [4, 4]

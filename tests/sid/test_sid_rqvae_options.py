"""RQ-VAE options: reproducible seeds, history_, schedules, loss_type, eval mode, RQ-KMeans+."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polytok.sid import RQVAE, NotFittedError, RQKMeans
from polytok.sid.inputs import gaussian_mixture
from polytok.systems.optim import lr_factor


def data(n=512, dim=8):
    return gaussian_mixture(n, dim, 16, seed=3, scale=2, spread=0.2)


def small_vae(**options):
    return RQVAE(in_dim=8, codebook_sizes=[8, 8], e_dim=4, layers=[16], **options)


def test_fit_seed_covers_weights_history_and_eval_mode():
    x = data()
    runs = []
    for _ in range(2):  # two fresh instances, different global RNG states before construction
        torch.manual_seed(len(runs) + 100)
        vae = small_vae(loss_type="l1")
        vae.fit(
            x, epochs=4, batch_size=128, seed=7, lr_schedule="step", lr_step_size=1, lr_gamma=0.5
        )
        runs.append(vae)
    a, b = runs
    assert np.array_equal(a.encode(x), b.encode(x))  # was 17% agreement before the fix
    assert not a.training  # eval mode after fit
    assert set(a.history_) == {"loss", "recon_loss", "quant_loss", "lr"}
    assert len(a.history_["loss"]) == 4 and a.history_["loss"] == b.history_["loss"]
    lrs = a.history_["lr"]  # the rate after each epoch halves every epoch
    assert lrs == pytest.approx([1e-3 * 0.5**i for i in range(1, 5)])
    assert a.history_["loss"][-1] < a.history_["loss"][0]


def test_fit_reports_validation_loss_and_refuses_lightning_options():
    x = data()
    vae = small_vae().fit(x, epochs=2, batch_size=128, val_fraction=0.25)
    assert len(vae.history_["val_loss"]) == 2 and all(v > 0 for v in vae.history_["val_loss"])
    with pytest.raises(TypeError, match=r"no Lightning Trainer options \(\['max_epochs'\]\)"):
        small_vae().fit(x, epochs=1, max_epochs=3)


def test_lr_schedules_reference():
    assert lr_factor(0, "constant", 2, 100, 0.1) == 0.5  # warm-up 1/2, 2/2
    assert lr_factor(5, "constant", 2, 100, 0.1) == 1.0
    assert lr_factor(2, "step", 2, 100, 0.1, step_size=10, gamma=0.5) == 1.0
    assert lr_factor(12, "step", 2, 100, 0.1, step_size=10, gamma=0.5) == 0.5
    assert lr_factor(100, "cosine", 0, 100, 0.1) == pytest.approx(0.1)
    assert lr_factor(50, "cosine", 0, 100, 0.1) == pytest.approx(0.55)


def test_loss_type_changes_the_reconstruction_loss():
    x = torch.from_numpy(data(64))
    mse, l1 = small_vae(), small_vae(loss_type="l1")
    l1.load_state_dict(mse.state_dict())
    mse.init_codebooks(x, 64)
    l1.load_state_dict(mse.state_dict())
    with torch.no_grad():
        out_mse, out_l1 = mse(x), l1(x)
    err = out_mse.x_hat - x
    assert float(out_mse.recon_loss) == pytest.approx(float((err**2).sum(1).mean()), rel=1e-5)
    assert float(out_l1.recon_loss) == pytest.approx(float(err.abs().sum(1).mean()), rel=1e-5)
    with pytest.raises(ValueError, match="loss_type must be one of"):
        small_vae(loss_type="huber")


def test_rqkmeans_plus_starts_at_the_rqkmeans_error():
    x = data(2000, 8)
    rq = RQKMeans(3, 16, random_state=0).fit(x)
    plus = RQVAE.from_rqkmeans(rq, layers=[32])
    assert plus.config.residual and plus.is_fitted
    np.testing.assert_array_equal(plus.encode(x), rq.encode(x))
    start = plus.evaluate(x)
    assert start["rel_mse"] == pytest.approx(rq.metrics_["rel_mse"], rel=1e-5)
    np.testing.assert_allclose(plus.decode(rq.encode(x)), rq.decode(rq.encode(x)), atol=1e-5)
    with pytest.raises(NotFittedError):
        RQVAE.from_rqkmeans(RQKMeans(2, 4))
    with pytest.raises(ValueError, match="residual=True needs e_dim == in_dim"):
        RQVAE(in_dim=8, e_dim=4, residual=True)


@pytest.mark.slow
def test_rqkmeans_plus_training_does_not_start_worse():
    x = data(2000, 8)
    rq = RQKMeans(3, 16, random_state=0).fit(x)
    plus = RQVAE.from_rqkmeans(rq, layers=[32]).fit(x, epochs=3, batch_size=256, lr=1e-4)
    assert plus.history_["recon_loss"][0] < 1.5 * float(
        ((x - rq.decode(rq.encode(x))) ** 2).sum(1).mean()
    )
    assert plus.metrics_["rel_mse"] < 1.2 * rq.metrics_["rel_mse"]

"""RQVAE: the issue's API, gradients, fit metrics, save/load, state-dict keys, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from polytok.sid import RQVAE, RQVAEConfig
from polytok.sid.inputs import gaussian_mixture


def blobs(n=600, dim=16, centers=12, seed=0) -> np.ndarray:
    return gaussian_mixture(n, dim, centers, seed=seed, scale=2, spread=0.2)


@pytest.fixture(scope="module")
def fitted():
    torch.manual_seed(0)
    X = blobs()
    vae = RQVAE(in_dim=16, codebook_sizes=[32, 32, 32], e_dim=16, layers=[32, 16], device="cpu")
    vae.fit(X, epochs=8, batch_size=32, lr=3e-3)
    return vae, X


def test_issue_api(fitted) -> None:
    vae, X = fitted
    codes = vae.encode(X)
    assert isinstance(codes, np.ndarray) and codes.shape == (600, 3) and codes.dtype == np.int64
    sids = vae.semantic_id(codes)
    assert len(sids) == 600 and sids[0] == "-".join(map(str, codes[0]))
    assert vae.decode(codes).shape == (600, 16)
    m = vae.metrics_
    for key in ("rel_mse", "usage", "perplexity", "collision_rate", "duplicate_rate"):
        assert key in m
    assert m["rel_mse"] < 0.5  # learned something: far below predicting the mean
    assert min(m["usage"]) > 0.2 and m["largest_bucket"] >= 1


def test_training_lowers_reconstruction_error() -> None:
    torch.manual_seed(1)
    X = blobs(seed=1)
    vae = RQVAE(in_dim=16, codebook_sizes=[16, 16], e_dim=8, layers=[32], decay=0.99)
    vae.init_codebooks(torch.from_numpy(X), batch_size=128)
    before = vae.evaluate(X)["rel_mse"]
    vae.fit(X, epochs=8, batch_size=32, lr=3e-3)
    assert vae.metrics_["rel_mse"] < 0.7 * before


def test_forward_shapes_and_straight_through_gradients() -> None:
    vae = RQVAE(in_dim=16, codebook_sizes=[8, 8], e_dim=4, layers=[12], sinkhorn=[True, False])
    x = torch.randn(64, 16)
    out = vae(x)
    assert out.x_hat.shape == (64, 16) and out.codes.shape == (64, 2)
    assert out.perplexity.shape == (2,) and out.usage.shape == (2,)
    out.loss.backward()
    first = vae.encoder[0].weight.grad
    assert first is not None and first.abs().sum() > 0  # gradients pass the quantizer
    assert vae.rvq.layers[0].codebook.grad is not None  # codebook loss trains codebooks
    # reconstruction loss is summed over dimensions (mean over the batch)
    torch.testing.assert_close(out.recon_loss, ((out.x_hat - x) ** 2).sum(1).mean())


def test_save_load_round_trip_and_stable_keys(fitted, tmp_path) -> None:
    vae, X = fitted
    vae.save(tmp_path / "vae")
    loaded = RQVAE.load(tmp_path / "vae")
    np.testing.assert_array_equal(loaded.encode(X), vae.encode(X))
    np.testing.assert_allclose(loaded.decode(vae.encode(X)), vae.decode(vae.encode(X)), atol=1e-6)
    keys = set(loaded.state_dict())
    assert "rvq.layers.0.codebook" in keys and "encoder.0.weight" in keys
    assert {k for k in keys if k.startswith("rvq.layers.2.")} == {
        f"rvq.layers.2.{n}" for n in ("codebook", "cluster_size", "embed_sum", "initialized")
    }
    # the fit metrics survive the round trip exactly (JSON floats), lists included
    assert vae.metrics_ and "rel_mse" in vae.metrics_
    assert loaded.metrics_ == vae.metrics_


def test_tensor_inputs_and_dtypes(fitted) -> None:
    vae, X = fitted
    for dtype in (torch.float16, torch.float64):
        codes = vae.encode(torch.from_numpy(X).to(dtype))
        assert isinstance(codes, torch.Tensor) and codes.shape == (600, 3)


def test_bad_input_and_config(fitted, tmp_path) -> None:
    vae, X = fitted
    with pytest.raises(ValueError, match="has 8 dimensions but the model was fitted on 16"):
        vae.encode(np.ones((2, 8), dtype=np.float32))
    bad = X.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match=r"\[3\]"):
        vae.encode(bad)
    with pytest.raises(ValueError, match="out-of-range"):
        vae.decode([[0, 0, 99]])
    fresh = RQVAE(in_dim=16, codebook_sizes=[4], e_dim=4, layers=[8])
    with pytest.raises(ValueError, match="not fitted"):
        fresh.encode(X)
    with pytest.raises(ValueError, match="not fitted"):
        fresh.save(tmp_path / "x")
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="more codewords than samples"):
        RQVAE(in_dim=16, codebook_sizes=[64], e_dim=4, layers=[8]).fit(X[:10])
    with pytest.raises(ValueError, match="one per level"):
        RQVAEConfig(in_dim=4, codebook_sizes=[4, 4], sinkhorn=[True])
    with pytest.raises(ValueError, match="dropout"):
        RQVAEConfig(in_dim=4, dropout=1.5)
    vae.save(tmp_path / "v")
    from polytok.sid import RQKMeans

    with pytest.raises(ValueError, match="holds a 'RQVAE'"):
        RQKMeans.load(tmp_path / "v")


def test_old_name_num_emb_list_still_reads_and_warns(fitted, tmp_path) -> None:
    with pytest.warns(DeprecationWarning, match="'num_emb_list' is now called 'codebook_sizes'"):
        old = RQVAE(in_dim=8, num_emb_list=[4, 4], e_dim=4, layers=[8])
    assert old.config.codebook_sizes == [4, 4] and old.num_levels == 2
    with pytest.warns(DeprecationWarning, match="num_levels"):
        assert old.n_levels == 2
    with pytest.raises(ValueError, match="'codebook_sizes' or its old name 'num_emb_list'"):
        RQVAE(in_dim=8, num_emb_list=[4], codebook_sizes=[4])
    vae, X = fitted  # a directory saved before the rename reads the same model
    path = tmp_path / "old"
    vae.save(path)
    header = json.loads((path / "config.json").read_text())
    header["config"]["num_emb_list"] = header["config"].pop("codebook_sizes")
    (path / "config.json").write_text(json.dumps(header))
    with pytest.warns(DeprecationWarning, match="num_emb_list"):
        loaded = RQVAE.load(path)
    np.testing.assert_array_equal(loaded.encode(X), vae.encode(X))

"""RQKMeans: the issue's API as written, dtypes, devices, backends, balance, I/O, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from polytok.sid import NotFittedError, RQKMeans, ShapeMismatchError
from polytok.sid.inputs import gaussian_mixture


def blobs(n=1200, dim=8, centers=30, seed=0) -> np.ndarray:
    return gaussian_mixture(n, dim, centers, seed=seed, scale=3, spread=0.3)


def test_issue_api_round_trip(tmp_path) -> None:
    X = blobs()
    model = RQKMeans(n_levels=3, n_clusters=10, random_state=42)
    model.fit(X, device="cpu")
    codes = model.encode(X)
    assert isinstance(codes, np.ndarray) and codes.shape == (1200, 3) and codes.dtype == np.int64
    sids = model.semantic_id(codes)
    assert sids[0] == "-".join(str(c) for c in codes[0]) and len(sids) == 1200
    X_hat = model.decode(codes)
    assert X_hat.shape == X.shape
    # residual levels refine: each extra level lowers the error
    errors = [
        float(((X - sum(model.codebooks[i][codes[:, i]].numpy() for i in range(level))) ** 2).sum())
        for level in (1, 2, 3)
    ]
    assert errors[0] > errors[1] > errors[2]
    assert model.metrics_["rel_mse"] == pytest.approx(
        errors[2] / float(((X - X.mean(0)) ** 2).sum()), rel=1e-4
    )
    model.save(tmp_path / "dir")
    loaded = RQKMeans.load(tmp_path / "dir")
    np.testing.assert_array_equal(loaded.encode(X), codes)
    np.testing.assert_allclose(loaded.decode(codes), X_hat)
    assert loaded.metrics_["largest_bucket"] == model.metrics_["largest_bucket"]
    assert sorted(loaded.state_dict()) == sorted(
        [f"codebook_{i}" for i in range(3)] + [f"prices_{i}" for i in range(3)]
    )


def test_deterministic_and_seed_dependent() -> None:
    X = blobs()
    a = RQKMeans(2, 8, random_state=1).fit(X).encode(X)
    b = RQKMeans(2, 8, random_state=1).fit(X).encode(X)
    c = RQKMeans(2, 8, random_state=2).fit(X).encode(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_similar_vectors_share_prefixes() -> None:
    X = blobs(centers=8)
    model = RQKMeans(2, 8, random_state=0).fit(X)
    codes = model.encode(X)
    near = model.encode(X + 1e-3)
    assert (near[:, 0] == codes[:, 0]).mean() > 0.99


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_tensor_inputs_of_every_float_dtype(dtype) -> None:
    X = torch.from_numpy(blobs()).to(dtype)
    model = RQKMeans(2, [12, 5]).fit(X)
    codes = model.encode(X)
    assert isinstance(codes, torch.Tensor) and codes.dtype == torch.int64
    assert [cb.shape for cb in model.codebooks] == [(12, 8), (5, 8)]
    assert int(codes[:, 1].max()) < 5
    assert isinstance(model.decode(codes), torch.Tensor)
    assert model.metrics_["usage"][0] == 1.0 and len(model.metrics_["perplexity"]) == 2


def test_codebooks_are_buffers_that_move_with_to() -> None:
    model = RQKMeans(2, 4).fit(blobs(200))
    model.to(torch.float64)
    assert all(cb.dtype == torch.float64 for cb in model.codebooks)
    assert all(name.startswith(("codebook_", "prices_")) for name, _ in model.named_buffers())
    assert not list(model.parameters())


@pytest.mark.gpu
def test_cuda_fit_matches_cpu_codes_mostly() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    from sklearn.metrics import adjusted_rand_score

    X = blobs()
    model = RQKMeans(2, 8, random_state=0).fit(X, device="cuda")
    cpu = RQKMeans(2, 8, random_state=0).fit(X)
    assert model.codebooks[0].is_cuda
    codes = model.encode(torch.from_numpy(X).cuda())
    assert codes.is_cuda and codes.shape == (1200, 2)
    cpu_codes = cpu.encode(X)
    # the same clustering up to label order and float rounding: "mostly" made a number
    assert adjusted_rand_score(cpu_codes[:, 0], codes[:, 0].cpu().numpy()) > 0.9
    assert model.metrics_["rel_mse"] == pytest.approx(cpu.metrics_["rel_mse"], rel=0.05)


def test_balanced_mode_gives_equal_first_level_sizes() -> None:
    rng = np.random.default_rng(0)
    # a dense core and a sparse halo: plain k-means gives very unequal clusters
    X = np.concatenate([0.5 * rng.normal(size=(900, 4)), 4 + 2 * rng.normal(size=(300, 4))])
    X = X.astype(np.float32)
    plain = RQKMeans(1, 6, random_state=0).fit(X).encode(X)
    model = RQKMeans(2, 6, random_state=0, balanced=True).fit(X)
    plain_sizes = np.bincount(plain[:, 0], minlength=6)
    assert plain_sizes.max() > 2.5 * plain_sizes.min()
    assert model.metrics_["perplexity"][0] == pytest.approx(6.0, rel=1e-9)  # 200 each at fit
    # encoding new points applies the learned Sinkhorn prices: close to, not exactly, balanced
    sizes = np.bincount(model.encode(X)[:, 0], minlength=6)
    assert sizes.max() < 250 and sizes.min() > 150 and model.prices[0].abs().max() > 0


def test_faiss_backend() -> None:
    X = blobs()
    model = RQKMeans(2, 8, backend="faiss", random_state=0).fit(X)
    torch_model = RQKMeans(2, 8, random_state=0).fit(X)
    assert model.metrics_["rel_mse"] < 1.5 * torch_model.metrics_["rel_mse"]
    assert model.encode(X).shape == (1200, 2)


def test_k_means_constrained_backend() -> None:
    pytest.importorskip("k_means_constrained")
    X = blobs(240)
    model = RQKMeans(1, 6, backend="k-means-constrained", balanced=True, max_iter=10).fit(X)
    codes = model.metrics_
    assert codes["perplexity"][0] == pytest.approx(6.0, rel=1e-6)  # exactly 40 per cluster


def test_bad_config_is_rejected() -> None:
    with pytest.raises(ValueError, match="one size per level"):
        RQKMeans(3, [4, 4])
    with pytest.raises(ValueError, match="backend must be one of"):
        RQKMeans(2, 4, backend="sklearn")
    with pytest.raises(ValueError, match="no balanced mode"):
        RQKMeans(2, 4, backend="faiss", balanced=True)
    with pytest.raises(ValueError, match="pass balanced=True"):
        RQKMeans(2, 4, backend="k-means-constrained")
    with pytest.raises(ValueError, match="n_levels"):
        RQKMeans(0, 4)


def test_nan_and_inf_rows_are_named() -> None:
    X = blobs(100)
    X[7, 2] = np.nan
    X[42, 0] = np.inf
    with pytest.raises(ValueError, match=r"2 row\(s\): \[7, 42\]"):
        RQKMeans(2, 4).fit(X)


def test_too_many_clusters_and_bad_inputs() -> None:
    with pytest.raises(ValueError, match="larger than the number of samples"):
        RQKMeans(2, [4, 50]).fit(blobs(20))
    ints = np.random.default_rng(0).integers(0, 50, size=(40, 3))  # cast to float32 (W3.8)
    fitted = RQKMeans(2, 4).fit(ints)
    assert np.array_equal(fitted.encode(ints), fitted.encode(ints.astype(np.float32)))
    with pytest.raises(TypeError, match="numeric"):
        RQKMeans(2, 4).fit(np.ones((10, 3), dtype=np.complex64))
    with pytest.raises(TypeError, match="numeric"):
        RQKMeans(2, 4).fit(np.array([["a", "b"]] * 10))
    with pytest.raises(ShapeMismatchError, match="no dimensions"):  # W3.9
        RQKMeans(2, 4).fit(np.zeros((10, 0), dtype=np.float32))
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        RQKMeans(2, 4).fit([[1.0, 2.0]])
    with pytest.raises(ValueError, match="2-D"):
        RQKMeans(2, 4).fit(np.ones(10, dtype=np.float32))


def test_unfitted_and_dimension_mismatch(tmp_path) -> None:
    model = RQKMeans(2, 4)
    for call in (lambda: model.encode(blobs(10)), lambda: model.decode([[0, 0]])):
        with pytest.raises(NotFittedError, match="not fitted"):
            call()
    with pytest.raises(ValueError, match="not fitted"):  # NotFittedError is a ValueError
        model.save(tmp_path / "never")
    assert not (tmp_path / "never").exists()
    model.fit(blobs(100))
    with pytest.raises(ShapeMismatchError, match="has 5 dimensions but the model was fitted on 8"):
        model.encode(np.ones((3, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="out-of-range"):
        model.decode([[0, 9]])
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        model.decode([[0, 1, 2]])


def test_corrupt_or_foreign_directories(tmp_path) -> None:
    model = RQKMeans(2, 4).fit(blobs(100))
    good = tmp_path / "good"
    model.save(good)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        RQKMeans.load(tmp_path / "missing")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (foreign / "model.safetensors").write_bytes(b"x")
    with pytest.raises(ValueError, match="no polytok semantic-ID model"):
        RQKMeans.load(foreign)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_text((good / "config.json").read_text())
    (corrupt / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="corrupt"):
        RQKMeans.load(corrupt)
    (corrupt / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt"):
        RQKMeans.load(corrupt)
    only_config = tmp_path / "half"
    only_config.mkdir()
    (only_config / "config.json").write_text((good / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="model.safetensors is missing"):
        RQKMeans.load(only_config)
    header = json.loads((good / "config.json").read_text())
    header["class"] = "RQVAE"
    (good / "config.json").write_text(json.dumps(header))
    with pytest.raises(ValueError, match="holds a 'RQVAE'"):
        RQKMeans.load(good)
    header["class"], header["config"]["n_clusters"] = "RQKMeans", 5
    (good / "config.json").write_text(json.dumps(header))
    with pytest.raises(ValueError, match="do not match the config"):
        RQKMeans.load(good)


def test_save_replaces_atomically(tmp_path) -> None:
    out = tmp_path / "m"
    RQKMeans(1, 3).fit(blobs(50)).save(out)
    RQKMeans(1, 5).fit(blobs(50)).save(out)
    assert RQKMeans.load(out).config.codebook_sizes == [5]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary leftovers

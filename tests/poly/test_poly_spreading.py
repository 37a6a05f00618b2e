"""GoldSpreading: exact inverse, subspace isolation, interference vs random codes, config errors."""

from __future__ import annotations

import pytest
import torch

from polytok.poly.spreading import (
    GoldSpreading,
    GoldSpreadingConfig,
    cross_modality_interference,
    orthogonal_matrix,
)

MODS = ("text", "image", "audio", "sid")


@pytest.mark.parametrize("mode", ["full", "subspace"])
def test_despread_is_exact_inverse_float64(mode):
    s = GoldSpreading(96, MODS, mode=mode)
    e = torch.randn(7, 3, s.in_dim, dtype=torch.float64)
    for m in MODS:
        x = s.spread(e, m)
        assert x.shape == (7, 3, 96)
        assert (s.despread(x, m) - e).abs().max() < 1e-10
    # norms are preserved (orthogonal Q, ±1 chips)
    assert torch.allclose(s.spread(e, "text").norm(dim=-1), e.norm(dim=-1))


def test_per_row_modality_tensor_matches_names():
    s = GoldSpreading(64, MODS, mode="subspace")
    e = torch.randn(8, s.in_dim, dtype=torch.float64)
    idx = torch.tensor([0, 1, 2, 3, 3, 2, 1, 0])
    x = s.spread(e, idx)
    for row, m in enumerate(idx.tolist()):
        assert torch.allclose(x[row], s.spread(e[row], MODS[m]))
    assert torch.allclose(s.despread(x, idx), e)


def test_q_is_orthogonal_and_seeded():
    q = orthogonal_matrix(50, seed=3)
    assert torch.allclose(q @ q.T, torch.eye(50, dtype=torch.float64), atol=1e-12)
    assert torch.equal(q, orthogonal_matrix(50, seed=3))
    assert not torch.allclose(q, orthogonal_matrix(50, seed=4))


def test_buffers_not_persistent_and_rebuilt_from_config():
    s = GoldSpreading(64, MODS)
    assert list(s.state_dict()) == []
    again = GoldSpreading(64, MODS)
    assert torch.equal(s.codes, again.codes) and torch.equal(s.q, again.q)
    assert set(s.codes.unique().tolist()) == {-1.0, 1.0}


def test_follows_input_dtype_and_gradients_flow():
    s = GoldSpreading(32, MODS)
    e = torch.randn(4, 32, requires_grad=True)
    x = s(e, "image")
    assert x.dtype == torch.float32
    x.pow(2).sum().backward()
    assert torch.allclose(e.grad, 2 * e.detach(), atol=1e-5)  # orthogonal map: |x|^2 = |e|^2


def test_subspace_mode_has_zero_cross_modality_interference():
    s = GoldSpreading(128, MODS, mode="subspace")
    e = torch.randn(100, s.in_dim, dtype=torch.float64)
    xa, xb = s.spread(e, "text"), s.spread(e, "image")
    assert (xa * xb).sum(-1).abs().max() < 1e-12
    assert s.despread(xa, "image").abs().max() < 1e-12
    assert cross_modality_interference(s)["mean_abs_cos"] < 1e-12


@pytest.mark.parametrize("dim", [127, 256])
def test_gold_codes_interfere_less_than_random_codes(dim):
    mods = tuple(f"m{i}" for i in range(8))
    gold = cross_modality_interference(GoldSpreading(dim, mods), num_samples=500)
    rand = cross_modality_interference(
        GoldSpreading(dim, mods, code_family="random"), num_samples=500
    )
    assert gold["max_abs_code_corr"] < rand["max_abs_code_corr"] / 3
    assert gold["mean_abs_bias"] < rand["mean_abs_bias"]
    assert gold["mean_abs_cos"] < rand["mean_abs_cos"]


def test_full_period_codes_have_minus_one_correlation():
    s = GoldSpreading(127, tuple(f"m{i}" for i in range(6)))
    gram = s.codes @ s.codes.T
    off = gram[~torch.eye(6, dtype=torch.bool)]
    assert (off == -1).all()  # greedy pick reaches the Gold minimum at lag 0


def test_add_modality_keeps_existing_codes():
    s = GoldSpreading(64, ("text",))
    before = s.codes.clone()
    assert s.add_modality("image") == 1
    assert torch.equal(s.codes[0], before[0])
    assert s.add_modality("image") == 1
    sub = GoldSpreading(64, ("a", "b"), mode="subspace")
    with pytest.raises(ValueError, match="subspaces are taken"):
        sub.add_modality("c")


def test_config_errors():
    with pytest.raises(ValueError, match="mode"):
        GoldSpreadingConfig(dim=64, mode="half")
    with pytest.raises(ValueError, match="2047"):
        GoldSpreadingConfig(dim=4096)
    with pytest.raises(ValueError, match="n must be"):
        GoldSpreadingConfig(dim=64, n=8)
    with pytest.raises(ValueError, match="distinct"):
        GoldSpreadingConfig(dim=64, modalities=("a", "a"))
    s = GoldSpreading(64, MODS)
    with pytest.raises(ValueError, match="known modalities"):
        s.spread(torch.randn(64), "video")
    with pytest.raises(ValueError, match="dim 64"):
        s.spread(torch.randn(32), "text")


@pytest.mark.gpu
def test_spreading_follows_cuda_device():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    s = GoldSpreading(64, MODS).to("cuda")
    e = torch.randn(5, 64, device="cuda", dtype=torch.float64)
    x = s.spread(e, "image")
    assert x.device.type == "cuda"
    assert (s.despread(x, "image") - e).abs().max() < 1e-10

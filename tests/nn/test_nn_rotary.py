"""Rotary tables: norm-preserving rotations whose q.k depends only on the position offset."""

import pytest
import torch

from polytok.nn.mlp import MLP
from polytok.nn.rotary import RotaryEmbedding, apply_rotary, rotary_frequencies


def test_rotation_preserves_norm_and_leaves_rest_alone():
    torch.manual_seed(0)
    rope = RotaryEmbedding(4, 16)
    x = torch.randn(2, 3, 16, 6)
    cos, sin = rope(16)
    y = apply_rotary(x, cos, sin)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))
    assert torch.equal(y[..., 4:], x[..., 4:])
    assert torch.equal(y[..., 0, :], x[..., 0, :])  # position 0 is not rotated


def test_scores_depend_only_on_offset():
    torch.manual_seed(0)
    rope = RotaryEmbedding(8, 32).double()
    cos, sin = rope(32)
    q, k = torch.randn(8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    qs = apply_rotary(q.expand(32, 8), cos, sin)
    ks = apply_rotary(k.expand(32, 8), cos, sin)
    torch.testing.assert_close(qs[5] @ ks[2], qs[20] @ ks[17])
    assert not torch.isclose(qs[5] @ ks[2], qs[5] @ ks[3])


def test_frequencies_and_errors():
    freqs = rotary_frequencies(4, base=100.0)
    torch.testing.assert_close(freqs, torch.tensor([1.0, 0.1], dtype=torch.float64))
    with pytest.raises(ValueError, match="even"):
        rotary_frequencies(3)
    with pytest.raises(ValueError, match="max_positions"):
        RotaryEmbedding(4, 8)(9)


def test_mlp_shape_and_gradcheck():
    torch.manual_seed(0)
    mlp = MLP(4, 8).double()
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert mlp(x).shape == (2, 3, 4)
    assert torch.autograd.gradcheck(mlp, (x,))
    assert mlp.fc.out_features == 8 and MLP(6).fc.out_features == 24

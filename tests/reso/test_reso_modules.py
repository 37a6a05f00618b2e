"""ResoFormer building blocks: embedding, resonant attention, gate, halting, collapse."""

import math

import pytest
import torch

from polytok.reso.attention import PHI, ResonantAttention, golden_head_weights, resonance_angles
from polytok.reso.collapse import EntropyCollapse
from polytok.reso.embedding import PrimeEmbedding, prime_features
from polytok.reso.gate import INV_PHI, CoherenceGate, open_gate_value
from polytok.reso.halting import PonderHalting
from polytok.reso.primes import token_primes


def test_prime_features_encode_log_and_residues():
    feats = prime_features(token_primes(6), [3, 4])  # primes 2 3 5 7 11 13
    assert feats.shape == (6, 5)
    torch.testing.assert_close(
        feats[:, 0], torch.log(torch.tensor([2.0, 3, 5, 7, 11, 13])) / math.log(13)
    )
    # residue mod 3 of 3 is 0 -> angle 0 -> (cos, sin) = (1, 0); 2 mod 3 = 2 -> angle 4 pi / 3
    torch.testing.assert_close(feats[1, 1:3], torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(
        feats[0, 1:3], torch.tensor([math.cos(4 * math.pi / 3), math.sin(4 * math.pi / 3)])
    )


def test_prime_embedding_starts_plain_and_learns_features():
    torch.manual_seed(0)
    emb = PrimeEmbedding(10, 6)
    torch.testing.assert_close(emb.weight, emb.token.weight)  # W_p = 0 at init
    ids = torch.tensor([[1, 2, 3]])
    emb(ids).sum().backward()
    assert emb.feature_proj.weight.grad.abs().sum() > 0
    plain = PrimeEmbedding(10, 6, moduli=None)
    assert plain.feature_proj is None and "features" not in dict(plain.named_buffers())
    with pytest.raises(ValueError, match="moduli"):
        PrimeEmbedding(10, 6, moduli=(1,))
    assert "features" not in emb.state_dict()  # config-determined buffer is not persisted


def test_prime_embedding_gradcheck():
    torch.manual_seed(0)
    emb = PrimeEmbedding(7, 4).double()
    ids = torch.tensor([[0, 3, 6, 3]])
    w = torch.randn(4, emb.features.shape[1], dtype=torch.float64, requires_grad=True)

    def f(weight):
        return torch.func.functional_call(emb, {"feature_proj.weight": weight}, (ids,))

    assert torch.autograd.gradcheck(f, (w,))


def test_golden_head_weights():
    w = golden_head_weights(4)
    torch.testing.assert_close(w.mean(), torch.tensor(1.0))
    torch.testing.assert_close(w[:-1] / w[1:], torch.full((3,), PHI, dtype=torch.float32))


def test_resonance_phase_depends_on_position_ratio():
    """theta = 2 pi ln(n) / ln(q): q.k after rotation depends only on n_q / n_k."""
    torch.manual_seed(0)
    attn = ResonantAttention(8, 1, 16, resonant_dim=8).double()
    angles = resonance_angles(16, [2, 3, 5, 7])
    torch.testing.assert_close(
        angles[3, 0], torch.tensor(2 * math.pi * math.log(4) / math.log(2), dtype=torch.float64)
    )
    assert angles[0].abs().max() == 0  # n = 1: ln 1 = 0
    q, k = (
        torch.randn(1, 1, 16, 8, dtype=torch.float64),
        torch.randn(1, 1, 16, 8, dtype=torch.float64),
    )
    q, k = q[:, :, :1].expand(1, 1, 16, 8), k[:, :, :1].expand(1, 1, 16, 8)
    rq, rk = attn._rotate(q, k)
    score = lambda i, j: rq[0, 0, i] @ rk[0, 0, j]  # noqa: E731
    # positions t = n - 1: (n=4, n=2) and (n=6, n=3) and (n=12, n=6) share the ratio 2
    torch.testing.assert_close(score(3, 1), score(5, 2))
    torch.testing.assert_close(score(3, 1), score(11, 5))
    assert not torch.isclose(score(3, 1), score(4, 2))  # same offset, other ratio


@pytest.mark.parametrize("kwargs", [dict(resonant_dim=4, rotary_dim=4, golden_heads=True), {}])
def test_resonant_attention_causal_and_gradcheck(kwargs):
    torch.manual_seed(0)
    attn = ResonantAttention(16, 2, 8, **kwargs).double().eval()
    x = torch.randn(1, 6, 16, dtype=torch.float64)
    y = x.clone()
    y[:, 4:] += 1.0
    assert torch.equal(attn(x)[:, :4], attn(y)[:, :4])
    xs = torch.randn(1, 4, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(attn, (xs,))


def test_resonant_attention_errors():
    with pytest.raises(ValueError, match="even"):
        ResonantAttention(16, 2, 8, rotary_dim=3)
    with pytest.raises(ValueError, match="exceeds the head width"):
        ResonantAttention(16, 2, 8, resonant_dim=6, rotary_dim=4)
    with pytest.raises(ValueError, match="max_positions"):
        ResonantAttention(16, 2, 8)(torch.randn(1, 9, 16))
    assert "cos" not in ResonantAttention(16, 2, 8, resonant_dim=2).state_dict()


def test_coherence_gate_open_at_init_and_gradcheck():
    gate = CoherenceGate(8)
    x, u = torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    out, g = gate(x, u)
    expected = open_gate_value(INV_PHI, 10.0, 4.0)
    assert expected > 0.95
    torch.testing.assert_close(g, torch.full((2, 5, 1), expected))
    torch.testing.assert_close(out, x + expected * u)
    gate = CoherenceGate(4).double()
    torch.nn.init.normal_(gate.score.weight)
    xs = torch.randn(1, 3, 4, dtype=torch.float64, requires_grad=True)
    us = torch.randn(1, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: gate(a, b)[0], (xs, us))


@pytest.mark.parametrize("tau", [0.0, 1.0, -0.5, 1.5])
def test_coherence_gate_rejects_tau_outside_unit_interval(tau):
    with pytest.raises(ValueError, match=r"tau must lie in \(0, 1\)"):
        CoherenceGate(8, tau=tau)


def test_ponder_halting_distribution_and_gradcheck():
    torch.manual_seed(0)
    halt = PonderHalting(4, 3).double()
    torch.nn.init.normal_(halt.score.weight)
    outs = [torch.randn(2, 5, 4, dtype=torch.float64) for _ in range(3)]
    y, cost = halt(outs)
    ones = [torch.ones(2, 5, 4, dtype=torch.float64)] * 3
    torch.testing.assert_close(halt(ones)[0], ones[0])  # halting probabilities sum to 1
    assert y.shape == (2, 5, 4) and 1 / 3 <= cost.item() <= 1.0
    fresh = PonderHalting(4, 3)
    _, init_cost = fresh([o.float() for o in outs])
    assert init_cost.item() > 0.9  # mass on the last layer at init
    xs = [torch.randn(1, 2, 4, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    assert torch.autograd.gradcheck(lambda a, b, c: halt([a, b, c])[0], tuple(xs))
    assert torch.autograd.gradcheck(lambda a, b, c: halt([a, b, c])[1], tuple(xs))
    with pytest.raises(ValueError, match="layer outputs"):
        halt(outs[:2])


def test_entropy_collapse_is_a_residual_vq_branch():
    torch.manual_seed(0)
    col = EntropyCollapse(16, codebook_size=8, code_dim=4)
    x = torch.randn(3, 10, 16, requires_grad=True)
    out = col(x)
    assert out.hidden.shape == x.shape and out.codes.shape == (3, 10)
    assert 1.0 <= out.perplexity.item() <= 8.0 and 0 < out.usage.item() <= 1.0
    assert out.loss.item() > 0
    # a residual branch: the stream keeps x, plus alpha * W_out q
    delta = out.hidden - x
    assert delta.abs().max() < x.abs().max()
    (out.hidden.sum() + out.loss).backward()
    assert col.alpha.grad is not None and col.inp.weight.grad.abs().sum() > 0
    col.eval()
    again = col(x.detach())
    assert torch.equal(col(x.detach()).codes, again.codes)
    with pytest.raises(ValueError, match="code_dim"):
        EntropyCollapse(16, code_dim=0)

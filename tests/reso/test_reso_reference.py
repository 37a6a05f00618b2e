"""Equivalence with hand-written reference implementations (float64, explicit masks and loops)."""

import math

import torch
import torch.nn.functional as F

from polytok.reso.attention import PHI, ResonantAttention
from polytok.reso.gate import CoherenceGate
from polytok.reso.model import ResoFormer, ResoFormerConfig
from polytok.reso.primes import first_primes


def reference_attention(x, qkv_w, proj_w, heads, angle_fn, head_weights=None):
    """Masked-softmax attention; channel pair k of a head is the complex number
    ``z_k = h_k + i h_{k+R}``, multiplied by ``exp(i theta(n, k))`` (the resonance operator
    ``R(n)|p> = exp(2 pi i log_p n)|p>`` for resonant pairs)."""
    b, t, d = x.shape
    dh = d // heads
    q, k, v = (x @ qkv_w.t()).split(d, dim=-1)
    out = torch.zeros(b, t, d, dtype=x.dtype)
    for h in range(heads):
        sl = slice(h * dh, (h + 1) * dh)
        qh, kh, vh = q[..., sl], k[..., sl], v[..., sl]
        theta = angle_fn(t)  # (T, R)
        r = theta.shape[1]
        phase = torch.polar(torch.ones_like(theta), theta)  # exp(i theta)
        zq = torch.complex(qh[..., :r], qh[..., r : 2 * r]) * phase
        zk = torch.complex(kh[..., :r], kh[..., r : 2 * r]) * phase
        scores = torch.einsum("bir,bjr->bij", zq, zk.conj()).real
        scores = scores + qh[..., 2 * r :] @ kh[..., 2 * r :].transpose(1, 2)
        mask = torch.ones(t, t, dtype=torch.bool).tril()
        scores = scores.masked_fill(~mask, float("-inf")) / math.sqrt(dh)
        y = scores.softmax(-1) @ vh
        out[..., sl] = y * (1.0 if head_weights is None else head_weights[h])
    return out @ proj_w.t()


def test_resonant_attention_matches_complex_phase_reference():
    torch.manual_seed(0)
    heads, dim, res, rot = 2, 24, 4, 4  # head width 12: 2 resonant pairs, 2 rotary pairs, 4 plain
    attn = ResonantAttention(dim, heads, 16, resonant_dim=res, rotary_dim=rot, golden_heads=True)
    attn = attn.double().eval()
    primes = first_primes(res // 2)

    def angles(t):
        n = torch.arange(1, t + 1, dtype=torch.float64)[:, None]
        resonant = 2 * math.pi * n.log() / torch.tensor(primes, dtype=torch.float64).log()
        inv = 10000.0 ** (-torch.arange(0, rot, 2, dtype=torch.float64) / rot)
        return torch.cat([resonant, (n - 1) * inv], dim=1)  # rotary uses the 0-based position

    weights = PHI ** -torch.arange(heads, dtype=torch.float64)
    weights = weights / weights.mean()
    x = torch.randn(3, 11, dim, dtype=torch.float64)
    expected = reference_attention(
        x, attn.attn.qkv.weight, attn.attn.proj.weight, heads, angles, weights
    )
    torch.testing.assert_close(attn(x), expected, rtol=1e-6, atol=1e-9)


def test_plain_resoformer_is_nanogpt():
    """All switches off: a pre-LN GPT with learned positions and a tied head, written out."""
    torch.manual_seed(0)
    cfg = ResoFormerConfig.plain_gpt(
        vocab_size=17, max_positions=12, dim=16, num_heads=2, num_layers=2
    )
    model = ResoFormer(cfg).double().eval()
    ids = torch.randint(0, 17, (2, 12))
    p = dict(model.named_parameters())
    x = p["embed.token.weight"][ids] + p["positions.weight"][:12]
    for i in range(cfg.num_layers):
        pre = f"blocks.{i}."
        h = F.layer_norm(x, (16,), p[pre + "norm1.weight"])
        x = x + reference_attention(
            h,
            p[pre + "attn.attn.qkv.weight"],
            p[pre + "attn.attn.proj.weight"],
            2,
            lambda t: torch.zeros(t, 0, dtype=torch.float64),
        )
        h = F.layer_norm(x, (16,), p[pre + "norm2.weight"])
        x = x + F.gelu(h @ p[pre + "mlp.fc.weight"].t()) @ p[pre + "mlp.proj.weight"].t()
    logits = F.layer_norm(x, (16,), p["norm.weight"]) @ p["embed.token.weight"].t()
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, logits, rtol=1e-6, atol=1e-9)
    # nanoGPT's parameter layout: no biases anywhere, one position table, one tied table
    assert not any(name.endswith(".bias") for name in p)
    assert model.num_parameters() == sum(v.numel() for v in p.values())


def test_gated_block_matches_formula():
    """x + g(c) u with u = attn(LN1 x) + mlp(LN2(x + attn(LN1 x))), g = sigma(kappa (c - tau))."""
    torch.manual_seed(0)
    cfg = ResoFormerConfig(
        vocab_size=11,
        max_positions=8,
        dim=16,
        num_heads=2,
        num_layers=1,
        resonant_dim=2,
        rotary_dim=2,
        prime_features=False,
        collapse=False,
    )
    block = ResoFormer(cfg).double().eval().blocks[0]
    with torch.no_grad():
        block.gate.score.weight.normal_()  # a closed-ish, input-dependent gate
    x = torch.randn(2, 8, 16, dtype=torch.float64)
    a = block.attn(block.norm1(x))
    u = a + block.mlp(block.norm2(x + a))
    gate: CoherenceGate = block.gate
    c = torch.sigmoid(
        F.layer_norm(u, (16,), gate.norm.weight, gate.norm.bias) @ gate.score.weight.t()
        + gate.score.bias
    )
    g = torch.sigmoid(gate.kappa * (c - gate.tau))
    out, got_g = block(x)
    torch.testing.assert_close(got_g, g)
    torch.testing.assert_close(out, x + g * u)
    assert (g < 0.9).any()  # the check is not trivially at an open gate

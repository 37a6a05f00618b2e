"""VectorQuantizer / ResidualVQ: shapes, gradients, EMA, k-means init, dead-code restart, I/O."""

from __future__ import annotations

import pytest
import torch

from polytok.nn import ResidualVQ, RVQOutput, VectorQuantizer, VQOutput
from polytok.nn.quantize import sinkhorn_prices


def blobs(n: int = 512, dim: int = 8, centers: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(centers, dim, generator=g) * 4
    return means[torch.randint(centers, (n,), generator=g)] + 0.1 * torch.randn(n, dim, generator=g)


def test_shapes_and_fields() -> None:
    vq = VectorQuantizer(8, 32)
    out = vq(torch.randn(2, 5, 8))
    assert isinstance(out, VQOutput)
    assert out.quantized.shape == (2, 5, 8)
    assert out.codes.shape == (2, 5) and out.codes.dtype == torch.int64
    assert out.loss.ndim == out.perplexity.ndim == out.usage.ndim == 0
    assert 0.0 <= float(out.usage) <= 1.0
    rvq = ResidualVQ(8, [16, 8, 4])
    out = rvq(torch.randn(3, 7, 8))
    assert isinstance(out, RVQOutput)
    assert out.quantized.shape == (3, 7, 8) and out.codes.shape == (3, 7, 3)
    assert out.perplexity.shape == (3,) and out.usage.shape == (3,)
    assert int(out.codes[..., 2].max()) < 4


def test_quantized_value_is_codeword_and_ste_gradient_reaches_input() -> None:
    vq = VectorQuantizer(8, 16)
    x = torch.randn(64, 8, requires_grad=True)
    out = vq(x)
    torch.testing.assert_close(out.quantized.detach(), vq.codebook[out.codes].detach())
    (out.quantized * torch.arange(8.0)).sum().backward()
    torch.testing.assert_close(x.grad, torch.arange(8.0).expand(64, 8))


def test_commitment_and_codebook_losses_give_gradients() -> None:
    vq = VectorQuantizer(8, 16, commitment_weight=0.5)
    x = torch.randn(64, 8, requires_grad=True)
    vq(x).loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert vq.codebook.grad is not None and vq.codebook.grad.abs().sum() > 0
    ema = VectorQuantizer(8, 16, decay=0.9)
    x2 = torch.randn(64, 8, requires_grad=True)
    ema(x2).loss.backward()
    assert x2.grad.abs().sum() > 0 and not ema.codebook.requires_grad


def test_residual_gradient_and_decode() -> None:
    rvq = ResidualVQ(8, [16, 16])
    x = blobs(256)
    x.requires_grad_(True)
    out = rvq(x)
    (out.quantized.sum() + out.loss).backward()
    assert x.grad.abs().sum() > 0
    torch.testing.assert_close(rvq.decode(out.codes), out.quantized.detach())
    # the second level lowers the error of the first
    first = rvq.layers[0].lookup(out.codes[:, 0])
    assert (x - out.quantized).pow(2).sum() < (x - first).pow(2).sum()


def test_kmeans_init_fits_the_first_batch() -> None:
    torch.manual_seed(0)
    x = blobs(1024, centers=16)
    vq = VectorQuantizer(8, 16, kmeans_init=True)
    assert not bool(vq.initialized)
    out = vq(x)
    assert bool(vq.initialized)
    assert float(out.usage) == 1.0
    assert float((x - out.quantized).pow(2).mean()) < 0.05  # one codeword per blob
    plain = VectorQuantizer(8, 16, kmeans_init=False)
    assert float((x - plain(x).quantized).pow(2).mean()) > 1.0


def test_ema_moves_codebook_towards_data() -> None:
    torch.manual_seed(0)
    x = blobs(512, centers=4)
    vq = VectorQuantizer(8, 4, decay=0.5, kmeans_init=False)
    before = float((x - vq(x).quantized).pow(2).mean())
    for _ in range(20):
        vq(x)
    after = float((x - vq(x).quantized).pow(2).mean())
    assert after < 0.5 * before


def test_dead_code_restart_revives_codes() -> None:
    torch.manual_seed(0)
    x = blobs(512, centers=32)
    vq = VectorQuantizer(8, 32, kmeans_init=False, dead_code_threshold=1.0)
    with torch.no_grad():  # all codewords far away from the data, one near it
        vq.codebook.fill_(100.0)
        vq.codebook[0] = x.mean(0)
    vq.cluster_size.zero_()
    first = vq(x)
    assert float(first.usage) == 1 / 32
    revived = vq(x)
    assert float(revived.usage) > 0.5
    # without restarts the codes stay dead
    stuck = VectorQuantizer(8, 32, kmeans_init=False)
    with torch.no_grad():
        stuck.codebook.fill_(100.0)
        stuck.codebook[0] = x.mean(0)
    stuck(x)
    assert float(stuck(x).usage) == 1 / 32


def test_eval_mode_does_not_change_state() -> None:
    vq = VectorQuantizer(8, 16, decay=0.9, dead_code_threshold=1.0).eval()
    state = {k: v.clone() for k, v in vq.state_dict().items()}
    vq(torch.randn(32, 8))
    for k, v in vq.state_dict().items():
        torch.testing.assert_close(v, state[k])


def test_save_load_equal_outputs_and_stable_keys(tmp_path) -> None:
    torch.manual_seed(0)
    rvq = ResidualVQ(8, [16, 8], decay=0.9, dead_code_threshold=0.1)
    rvq(blobs(256))
    assert list(rvq.state_dict()) == [
        f"layers.{i}.{name}"
        for i in range(2)
        for name in ("codebook", "cluster_size", "embed_sum", "initialized")
    ]
    torch.save(rvq.state_dict(), tmp_path / "rvq.pt")
    fresh = ResidualVQ(8, [16, 8], decay=0.9, dead_code_threshold=0.1)
    fresh.load_state_dict(torch.load(tmp_path / "rvq.pt", weights_only=True))
    x = blobs(64, seed=1)
    a, b = rvq.eval()(x), fresh.eval()(x)
    torch.testing.assert_close(a.quantized, b.quantized)
    assert torch.equal(a.codes, b.codes)
    assert bool(fresh.layers[0].initialized)


def test_follows_dtype() -> None:
    vq = VectorQuantizer(8, 16).double()
    out = vq(torch.randn(32, 8, dtype=torch.float64))
    assert out.quantized.dtype == torch.float64
    out = VectorQuantizer(8, 16)(torch.randn(32, 8).to(torch.bfloat16))
    assert out.quantized.dtype == torch.bfloat16


def test_sinkhorn_balances_assignments() -> None:
    torch.manual_seed(0)
    x = torch.randn(2000, 2) * torch.tensor([5.0, 0.2])
    centroids = torch.randn(8, 2) * 0.1
    centroids[0] = 0  # plain nearest assignment crowds codeword 0
    cost = torch.cdist(x, centroids) ** 2
    nearest_sizes = torch.bincount(cost.argmin(1), minlength=8)
    assert int(nearest_sizes.max()) > 2 * 250
    spread = float((cost - cost.min(1, keepdim=True).values).mean())
    labels, prices = sinkhorn_prices(cost, 0.05 * spread, 200)
    sizes = torch.bincount(labels, minlength=8)
    assert int(sizes.max()) <= 1.25 * 250 and int(sizes.min()) >= 0.75 * 250
    assert prices.shape == (8,)
    vq = VectorQuantizer(2, 8, kmeans_init=False, sinkhorn=True)
    with torch.no_grad():
        vq.codebook.copy_(centroids)
    assert float(vq(x).usage) == 1.0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="codebook_size"):
        VectorQuantizer(8, 0)
    with pytest.raises(ValueError, match="decay"):
        VectorQuantizer(8, 4, decay=1.5)
    with pytest.raises(ValueError, match="last dimension 8"):
        VectorQuantizer(8, 4)(torch.randn(3, 5))
    with pytest.raises(ValueError, match="one per level"):
        ResidualVQ(8, [4, 4], sinkhorn=[True])


@pytest.mark.gpu
def test_cuda_follows_device() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    rvq = ResidualVQ(8, [16, 16]).cuda()
    out = rvq(torch.randn(64, 8, device="cuda"))
    assert out.quantized.device.type == "cuda" and out.codes.device.type == "cuda"

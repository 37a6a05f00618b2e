"""Vector quantizers: `VectorQuantizer` and `ResidualVQ`.

VQ-VAE (van den Oord et al., 2017, eq. 3): ``z_q = e_k`` with ``k = argmin_j ||z - e_j||``, the
straight-through estimator ``z + sg(z_q - z)``, codebook loss ``||sg(z) - e||^2`` and commitment
loss ``beta ||z - sg(e)||^2``. Optional EMA codebook updates (Razavi et al., 2019, appendix A.1)
with Laplace smoothing, k-means initialisation from the first training batch, dead-code restart
from random batch vectors (Dhariwal et al., 2020, "Jukebox", sec. 3.3), and balanced training-time
assignment by Sinkhorn-Knopp (Cuturi, 2013). Residual quantization (Lee et al., 2022, "RQ-VAE",
eq. 2) quantizes the residual of the previous level.

Codebook storage: ``codebook`` is an ``nn.Parameter`` trained by the codebook loss when
``decay is None``, and a buffer updated by EMA otherwise; the state-dict keys are the same either
way: ``codebook`` (K, D), ``cluster_size`` (K,) EMA of code counts, ``embed_sum`` (K, D) EMA of
assigned vectors (used when ``decay`` is set), ``initialized`` (scalar bool).

Under DDP (``torch.distributed`` initialised, `polytok.nn.distributed`) every state change is the
same on all ranks: the k-means initialisation runs on rank 0 over the first batches of all ranks
and is broadcast; the per-step code counts and assigned-vector sums are all-reduced before the EMA
update, so ``cluster_size`` and ``embed_sum`` count the global batch; dead codes are decided from
those shared counts and restarted from vectors that rank 0 broadcasts. Training steps make no host
sync: restarts are a masked ``torch.where``, and ``initialized`` is read from the device only until
it is set (and again after ``load_state_dict``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from polytok.nn import distributed
from polytok.nn.kmeans import kmeans
from polytok.nn.sinkhorn import sinkhorn_prices

USAGE_DECAY = 0.99  # decay of the usage statistics when the codebook is trained by gradients


class VQOutput(NamedTuple):
    """`VectorQuantizer` output.

    Attributes:
        quantized: (..., D) straight-through quantized vectors (value = codeword, grad = identity).
        codes: (...) int64 code indices.
        loss: scalar codebook + commitment loss (commitment only with EMA codebooks).
        perplexity: scalar ``exp(entropy)`` of the batch's code distribution.
        usage: scalar share of codewords used in the batch, in [0, 1].
    """

    quantized: Tensor
    codes: Tensor
    loss: Tensor
    perplexity: Tensor
    usage: Tensor


class RVQOutput(NamedTuple):
    """`ResidualVQ` output: ``quantized`` (..., D), ``codes`` (..., L), scalar ``loss``,
    ``perplexity`` (L,), ``usage`` (L,)."""

    quantized: Tensor
    codes: Tensor
    loss: Tensor
    perplexity: Tensor
    usage: Tensor


class VectorQuantizer(nn.Module):
    """Nearest-codeword quantizer with straight-through gradients (see module docstring).

    Args:
        dim: vector width D.
        codebook_size: number of codewords K.
        commitment_weight: beta of the commitment loss.
        decay: EMA decay of the codebook (e.g. 0.99); None trains it with the codebook loss.
        kmeans_init: initialise the codebook by k-means on the first training batch (a batch
            smaller than K is sampled with replacement).
        dead_code_threshold: in training, codes whose EMA count per batch falls below this are
            restarted from random vectors of the current batch; 0 disables restarts.
        sinkhorn: in training, assign by balanced Sinkhorn-Knopp instead of nearest codeword.
        kmeans_iters: Lloyd iterations of the k-means initialisation.
        sinkhorn_epsilon: Sinkhorn temperature relative to the batch's mean assignment cost.
        sinkhorn_iters: Sinkhorn iterations per batch.
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        commitment_weight: float = 0.25,
        decay: float | None = None,
        kmeans_init: bool = True,
        dead_code_threshold: float = 0.0,
        sinkhorn: bool = False,
        kmeans_iters: int = 10,
        sinkhorn_epsilon: float = 0.05,
        sinkhorn_iters: int = 10,
    ) -> None:
        super().__init__()
        if dim <= 0 or codebook_size <= 0:
            raise ValueError(
                f"dim and codebook_size must be positive, got dim={dim}, "
                f"codebook_size={codebook_size}"
            )
        if decay is not None and not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1) or None, got {decay}")
        if commitment_weight < 0 or dead_code_threshold < 0:
            raise ValueError(
                "commitment_weight and dead_code_threshold must be >= 0, got "
                f"{commitment_weight} and {dead_code_threshold}"
            )
        self.dim, self.codebook_size = dim, codebook_size
        self.commitment_weight = commitment_weight
        self.decay = decay
        self.kmeans_init = kmeans_init
        self.dead_code_threshold = dead_code_threshold
        self.sinkhorn = sinkhorn
        self.kmeans_iters = kmeans_iters
        self.sinkhorn_epsilon, self.sinkhorn_iters = sinkhorn_epsilon, sinkhorn_iters
        init = torch.empty(codebook_size, dim).uniform_(-1.0 / codebook_size, 1.0 / codebook_size)
        if decay is None:
            self.codebook = nn.Parameter(init)
        else:
            self.register_buffer("codebook", init)
        self.register_buffer("cluster_size", torch.ones(codebook_size))
        self.register_buffer("embed_sum", init.clone())
        self.register_buffer("initialized", torch.tensor(not kmeans_init))
        self._known_initialized = not kmeans_init  # host mirror of `initialized` once it is True

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._known_initialized = False  # read the loaded buffer once, at the next training step

    def _needs_init(self) -> bool:
        """Whether k-means initialisation is still due; reads the device only until it is done."""
        if not self._known_initialized:
            self._known_initialized = bool(self.initialized)
        return not self._known_initialized

    @torch.no_grad()
    def _init_from(self, flat: Tensor) -> None:
        """k-means on the first batch of every rank, computed on rank 0 and broadcast."""
        data = distributed.gather_rows(flat.float())  # (sum of ranks' N, D)
        if distributed.rank() == 0:
            if data.shape[0] < self.codebook_size:  # sample with replacement, then jitter
                idx = torch.randint(data.shape[0], (self.codebook_size,), device=data.device)
                data = data[idx] + 1e-4 * data.std() * torch.randn_like(data[idx])
            seed = int(torch.randint(2**31 - 1, (1,)))
            result = kmeans(data, self.codebook_size, max_iter=self.kmeans_iters, seed=seed)
            counts = torch.zeros_like(self.cluster_size).index_add_(
                0, result.labels, torch.ones_like(result.labels, dtype=self.cluster_size.dtype)
            )
            scale = flat.shape[0] * distributed.world_size() / data.shape[0]
            self.codebook.data.copy_(result.centroids)
            self.cluster_size.copy_(counts * scale)  # counts per global batch
            self.embed_sum.copy_(result.centroids * self.cluster_size.unsqueeze(1))
        for tensor in (self.codebook.data, self.cluster_size, self.embed_sum):
            distributed.broadcast_(tensor)
        self.initialized.fill_(True)
        self._known_initialized = True

    def lookup(self, codes: Tensor) -> Tensor:
        """(...) int64 codes -> (..., D) codewords."""
        return F.embedding(codes, self.codebook)

    def _assign(self, flat: Tensor) -> Tensor:
        codebook = self.codebook.detach().float()
        data = flat.detach().float()
        cost = torch.addmm((codebook * codebook).sum(1), data, codebook.t(), alpha=-2.0)  # (N, K)
        if self.sinkhorn and self.training and flat.shape[0] > 1:
            cost = cost + (data * data).sum(1, keepdim=True)
            gap = (cost - cost.min(1, keepdim=True).values).mean()
            scale = torch.where(gap > 0, gap, 1.0)  # a tensor: no host sync
            return sinkhorn_prices(cost, self.sinkhorn_epsilon * scale, self.sinkhorn_iters)[0]
        return cost.argmin(1)

    @torch.no_grad()
    def _update_statistics(self, flat: Tensor, codes: Tensor, counts: Tensor) -> None:
        """EMA update from this step's global ``counts`` (K,) (all-reduced by the caller)."""
        rate = 1.0 - (self.decay if self.decay is not None else USAGE_DECAY)
        flat = flat.to(self.embed_sum.dtype)
        self.cluster_size.lerp_(counts.to(self.cluster_size.dtype), rate)
        if self.decay is not None:
            sums = torch.zeros_like(self.embed_sum).index_add_(0, codes, flat)  # (K, D)
            self.embed_sum.lerp_(distributed.all_reduce_sum_(sums), rate)
            total = self.cluster_size.sum()
            # Laplace smoothing keeps rarely used codes finite (Razavi et al., 2019).
            smoothed = (self.cluster_size + 1e-5) / (total + self.codebook_size * 1e-5) * total
            self.codebook.copy_(self.embed_sum / smoothed.unsqueeze(1))
        if self.dead_code_threshold > 0:
            self._restart_dead_codes(flat, counts)

    @torch.no_grad()
    def _restart_dead_codes(self, flat: Tensor, counts: Tensor) -> None:
        """Codes whose EMA count fell below the threshold take random batch vectors (Jukebox).

        The dead mask comes from the shared counts; the candidate vectors are drawn on rank 0
        and broadcast, so every rank restarts the same codes to the same vectors.
        """
        dead = (self.cluster_size < self.dead_code_threshold).unsqueeze(1)  # (K, 1)
        pick = torch.randint(flat.shape[0], (self.codebook_size,), device=flat.device)
        vectors = distributed.broadcast_(flat[pick].contiguous())  # (K, D) candidates
        level = counts.mean().clamp_min(self.dead_code_threshold).to(self.cluster_size.dtype)
        self.codebook.data.copy_(torch.where(dead, vectors.to(self.codebook.dtype), self.codebook))
        self.cluster_size.copy_(torch.where(dead[:, 0], level, self.cluster_size))
        self.embed_sum.copy_(torch.where(dead, vectors * level, self.embed_sum))

    def forward(self, x: Tensor) -> VQOutput:
        """Quantize ``x`` (..., D); statistics and EMA/restarts update only in training."""
        if x.shape[-1] != self.dim:
            raise ValueError(
                f"expected last dimension {self.dim}, got input of shape {tuple(x.shape)}"
            )
        flat = x.reshape(-1, self.dim)  # (..., D) -> (N, D)
        if self.training and self._needs_init():
            self._init_from(flat.detach())
        codes = self._assign(flat)  # (N,)
        # index_add_ rather than bincount: no device-to-host read of the largest code
        counts = flat.new_zeros(self.codebook_size, dtype=torch.float32)
        counts.index_add_(0, codes, counts.new_ones(codes.shape[0]))  # (K,) this rank's counts
        if self.training:
            counts = distributed.all_reduce_sum_(counts)  # (K,) counts of the global batch
        quant = self.lookup(codes).to(x.dtype)  # (N, D)
        commitment = F.mse_loss(flat, quant.detach())
        loss = self.commitment_weight * commitment
        if self.decay is None:
            loss = loss + F.mse_loss(quant, flat.detach())
        if self.training:
            self._update_statistics(flat.detach(), codes, counts)
        probs = counts / counts.sum().clamp_min(1)
        perplexity = torch.exp(-(probs * torch.log(probs.clamp_min(1e-10))).sum())
        usage = (counts > 0).float().mean()
        quantized = flat + (quant - flat).detach()  # straight-through estimator
        return VQOutput(
            quantized.reshape(x.shape), codes.reshape(x.shape[:-1]), loss, perplexity, usage
        )


class ResidualVQ(nn.Module):
    """Residual vector quantization: level l quantizes ``x - sum_{j<l} q_j`` (Lee et al., 2022).

    Args:
        dim: vector width D.
        codebook_sizes: codewords per level, e.g. ``[256, 256, 256]``.
        **vq_kwargs: `VectorQuantizer` options shared by all levels; ``sinkhorn`` may also be a
            list of booleans, one per level.

    The output ``quantized`` equals ``sum_l q_l`` in value and passes gradients straight
    through to ``x``; ``loss`` sums the levels' losses (each on its own residual).
    """

    def __init__(self, dim: int, codebook_sizes: list[int], **vq_kwargs) -> None:
        super().__init__()
        if not codebook_sizes:
            raise ValueError("codebook_sizes must name at least one level, got []")
        sinkhorn = vq_kwargs.pop("sinkhorn", False)
        flags = (
            list(sinkhorn)
            if isinstance(sinkhorn, list | tuple)
            else [sinkhorn] * len(codebook_sizes)
        )
        if len(flags) != len(codebook_sizes):
            raise ValueError(
                f"sinkhorn lists {len(flags)} flags for {len(codebook_sizes)} levels; give one per level"
            )
        self.dim = dim
        self.layers = nn.ModuleList(
            VectorQuantizer(dim, size, sinkhorn=flag, **vq_kwargs)
            for size, flag in zip(codebook_sizes, flags)
        )

    @property
    def codebook_sizes(self) -> list[int]:
        """Codewords per level."""
        return [layer.codebook_size for layer in self.layers]

    @property
    def num_levels(self) -> int:
        """Number of levels L."""
        return len(self.layers)

    def decode(self, codes: Tensor) -> Tensor:
        """(..., L) int64 codes -> (..., D) sum of the codewords."""
        if codes.shape[-1] != len(self.layers):
            raise ValueError(
                f"expected {len(self.layers)} levels of codes, got shape {tuple(codes.shape)}"
            )
        return sum(layer.lookup(codes[..., i]) for i, layer in enumerate(self.layers))

    def forward(self, x: Tensor) -> RVQOutput:
        """Quantize ``x`` (..., D) level by level."""
        residual = x
        total = torch.zeros_like(x)
        codes, losses, perplexities, usages = [], [], [], []
        for layer in self.layers:
            out = layer(residual)
            q = out.quantized.detach()
            total = total + q
            residual = residual - q
            codes.append(out.codes)
            losses.append(out.loss)
            perplexities.append(out.perplexity)
            usages.append(out.usage)
        quantized = x + (total - x).detach()  # straight-through estimator over all levels
        return RVQOutput(
            quantized,
            torch.stack(codes, -1),  # L x (...) -> (..., L)
            torch.stack(losses).sum(),
            torch.stack(perplexities),
            torch.stack(usages),
        )

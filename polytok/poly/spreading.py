"""`GoldSpreading`: spread a meta-embedding into a modality's code, and back.

Direct-sequence spreading as in CDMA (Gold 1967; Viterbi, "CDMA: Principles of Spread Spectrum
Communication", 1995): every modality ``m`` owns a ±1 chip vector ``c_m`` taken from a Gold family
(`polytok.poly.gold`). A meta-embedding ``e`` is rotated by a fixed seeded orthogonal matrix ``Q``
(QR of a Gaussian, sign-corrected: Mezzadri, "How to generate random matrices from the classical
compact groups", 2007) and multiplied chip-wise by the code:

    full mode:      x = c_m ⊙ (Q e),                       e = Qᵀ (c_m ⊙ x)
    subspace mode:  x = Q (c_m ⊙ P_m e),                   e = P_mᵀ (c_m ⊙ Qᵀ x)

Both maps are exactly invertible (``c_m ⊙ c_m = 1`` and ``QᵀQ = I``).

*Full mode* uses all ``dim`` chips for every modality. The same ``e`` spread into two modalities
gives ``cos(x_a, x_b) = Σ_i c_a[i] c_b[i] y_i² / ‖y‖²`` with ``y = Q e``: its mean over ``e`` is
the zero-lag code correlation ``⟨c_a, c_b⟩ / dim``. Codes are picked greedily from the Gold family
so that this correlation is as small as possible (``-1/dim`` over a full period); random ±1 codes
give ``≈ ±1/sqrt(dim)``.

*Subspace (CDMA) mode* gives each modality a disjoint set of chips: ``P_m`` places the
``dim // num_subspaces``-dimensional meta-embedding into block ``m`` of the chips, so spread vectors
of different modalities are exactly orthogonal (interference 0 for every ``e``, not just on
average) and ``despread(x_a, b)`` is 0. The price is capacity: each modality has
``dim // num_subspaces`` dimensions.

Buffers are rebuilt from the config (``persistent=False``) and are float32 (MPS has no float64);
the module follows the input's device and dtype. They are computed on the host (numpy, CPU float64
QR) and placed on the default device, so the module also builds under ``torch.device("meta")``.
float64 inputs (host-side analysis) use a float64 host copy of ``Q``, so float64 round trips are
exact to ~1e-15; float32 round trips to ~1e-6.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from polytok.poly.gold import PREFERRED_PAIRS, gold_family

MODES = ("full", "subspace")
CODE_FAMILIES = ("gold", "random")


@dataclass
class GoldSpreadingConfig:
    dim: int = 256  # number of chips = output dimension
    modalities: tuple[str, ...] = ("text",)  # modality names, code i goes to modalities[i]
    mode: str = "full"  # "full": all chips per modality; "subspace": disjoint chip blocks (CDMA)
    num_subspaces: int | None = None  # subspace mode: blocks reserved (None -> len(modalities))
    n: int | None = None  # Gold degree; None -> smallest tabulated n with 2**n - 1 >= dim
    code_family: str = "gold"  # "gold", or "random" ±1 codes (the baseline for interference)
    seed: int = 0  # seeds Q (and random codes)
    _blocks: int = field(init=False, repr=False, default=1)

    def __post_init__(self) -> None:
        if not isinstance(self.dim, int) or self.dim < 2:
            raise ValueError(f"dim must be an int >= 2, got {self.dim!r}")
        self.modalities = tuple(self.modalities)
        if not self.modalities or len(set(self.modalities)) != len(self.modalities):
            raise ValueError(
                f"modalities must be a non-empty list of distinct names, got {self.modalities!r}"
            )
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.code_family not in CODE_FAMILIES:
            raise ValueError(
                f"code_family must be one of {CODE_FAMILIES}, got {self.code_family!r}"
            )
        if self.n is None:
            fits = [k for k in sorted(PREFERRED_PAIRS) if (1 << k) - 1 >= self.dim]
            if not fits:
                raise ValueError(
                    f"dim={self.dim} is longer than the longest Gold code (2047 chips, n=11); "
                    f"use dim <= 2047 or code_family='random'"
                    if self.code_family == "gold"
                    else f"dim={self.dim} too large"
                )
            self.n = fits[0]
        elif self.n not in PREFERRED_PAIRS:
            raise ValueError(f"n must be one of {sorted(PREFERRED_PAIRS)}, got {self.n!r}")
        if self.code_family == "gold" and (1 << self.n) - 1 < self.dim:
            raise ValueError(f"n={self.n} gives {2**self.n - 1} chips < dim={self.dim}; raise n")
        if self.mode == "subspace":
            blocks = self.num_subspaces or len(self.modalities)
            if blocks < len(self.modalities) or self.dim // blocks < 1:
                raise ValueError(
                    f"subspace mode needs num_subspaces >= {len(self.modalities)} modalities and "
                    f"dim // num_subspaces >= 1; got num_subspaces={self.num_subspaces}, dim={self.dim}"
                )
            self._blocks = blocks
        elif self.num_subspaces is not None:
            raise ValueError("num_subspaces is only used with mode='subspace'")

    @property
    def in_dim(self) -> int:
        """Dimension of the meta-embeddings: ``dim`` (full) or ``dim // num_subspaces``."""
        return self.dim if self.mode == "full" else self.dim // self._blocks


def orthogonal_matrix(dim: int, seed: int) -> torch.Tensor:
    """A Haar-random orthogonal ``(dim, dim)`` float64 matrix from a seeded generator (Mezzadri 2007)."""
    gen = torch.Generator().manual_seed(seed)
    gauss = torch.randn(dim, dim, generator=gen, dtype=torch.float64, device="cpu")
    q, r = torch.linalg.qr(gauss)
    return q * torch.sign(torch.diagonal(r))[None, :]  # sign fix makes Q Haar-distributed


def select_codes(candidates: torch.Tensor, count: int) -> torch.Tensor:
    """Greedy pick of ``count`` rows with the smallest worst zero-lag |correlation| to earlier picks.

    Prefix-stable: picking ``k+1`` codes keeps the first ``k``.

    Args:
        candidates: ``(M, L)`` ±1 chips.
        count: how many codes to pick (``<= M``).

    Returns:
        ``(count,)`` int64 row indices.
    """
    if count > candidates.shape[0]:
        raise ValueError(f"only {candidates.shape[0]} codes available, {count} requested")
    chosen = [0]
    worst = (candidates @ candidates[0]).abs()  # (M,) worst |corr| against the picks so far
    worst[0] = math.inf
    for _ in range(count - 1):
        pick = int(torch.argmin(worst))  # first minimum: deterministic tie-break
        chosen.append(pick)
        worst = torch.maximum(worst, (candidates @ candidates[pick]).abs())
        worst[chosen] = math.inf
    return torch.tensor(chosen, dtype=torch.int64, device=candidates.device)


def build_codes(config: GoldSpreadingConfig, count: int) -> torch.Tensor:
    """The ``(count, dim)`` ±1 codes of the first ``count`` modalities (float32, on the CPU)."""
    if config.code_family == "random":
        gen = torch.Generator().manual_seed(config.seed + 1)
        bits = torch.randint(0, 2, (count, config.dim), generator=gen, device="cpu")
        return (bits * 2 - 1).float()
    bits = gold_family(config.n)  # (2^n + 1, 2^n - 1) uint8 on the host
    family = torch.from_numpy(1.0 - 2.0 * bits.astype(np.float32))  # ±1; float32 sums are exact
    width = config.in_dim  # chips that one modality actually uses (a block in subspace mode)
    picks = select_codes(family[:, :width], count)
    return family[picks, : config.dim].float()


class GoldSpreading(nn.Module):
    """Per-modality Gold-code spreading with an exact inverse.

    Args:
        dim: output dimension (number of chips).
        modalities: modality names; more can be added with `add_modality`.
        **options: other `GoldSpreadingConfig` fields (``mode``, ``num_subspaces``, ``n``,
            ``code_family``, ``seed``).

    Shapes: ``spread(e: (..., in_dim), modality) -> (..., dim)``; ``despread`` the reverse.
    ``modality`` is a name, an index, or an int64 tensor of indices of shape ``(...)``.
    """

    def __init__(self, dim: int = 256, modalities: tuple[str, ...] = ("text",), **options) -> None:
        super().__init__()
        self.config = GoldSpreadingConfig(dim=dim, modalities=tuple(modalities), **options)
        q64 = orthogonal_matrix(dim, self.config.seed)  # host float64; never a device buffer
        self._q64 = q64
        device = torch.get_default_device()
        self.register_buffer("q", q64.to(device=device, dtype=torch.float32), persistent=False)
        self._rebuild_codes()

    def _rebuild_codes(self) -> None:
        codes = build_codes(self.config, len(self.config.modalities)).to(self.q.device)
        self.register_buffer("codes", codes, persistent=False)  # (M, dim)

    def _matrix(self, like: torch.Tensor) -> torch.Tensor:
        """``Q`` in ``like``'s dtype on ``like``'s device (float64 from the host copy)."""
        if like.dtype != torch.float64:
            return self.q.to(like.dtype)
        if self._q64.device != like.device:
            self._q64 = self._q64.to(like.device)
        return self._q64

    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def in_dim(self) -> int:
        return self.config.in_dim

    @property
    def modalities(self) -> tuple[str, ...]:
        return self.config.modalities

    def add_modality(self, name: str) -> int:
        """Give ``name`` the next code (existing codes are unchanged); returns its index."""
        if name in self.config.modalities:
            return self.config.modalities.index(name)
        if self.config.mode == "subspace" and len(self.config.modalities) >= self.config._blocks:
            raise ValueError(
                f"all {self.config._blocks} subspaces are taken by {list(self.config.modalities)}; "
                f"create GoldSpreading with a larger num_subspaces to add {name!r}"
            )
        self.config.modalities = (*self.config.modalities, name)
        self._rebuild_codes()
        return len(self.config.modalities) - 1

    def _index(self, modality: str | int | torch.Tensor, device: torch.device) -> torch.Tensor:
        if isinstance(modality, str):
            if modality not in self.config.modalities:
                raise ValueError(
                    f"unknown modality {modality!r}; known modalities: {list(self.config.modalities)}"
                )
            return torch.tensor(self.config.modalities.index(modality), device=device)
        if isinstance(modality, int):  # checked on the host: no device read
            if not 0 <= modality < len(self.config.modalities):
                raise ValueError(f"modality index out of range [0, {len(self.config.modalities)})")
            return torch.tensor(modality, device=device)
        index = torch.as_tensor(modality, device=device, dtype=torch.int64)
        if index.numel() and (index.min() < 0 or index.max() >= len(self.config.modalities)):
            raise ValueError(f"modality index out of range [0, {len(self.config.modalities)})")
        return index

    def _chip_index(self, modality, lead: torch.Size, device) -> tuple[torch.Tensor, torch.Tensor]:
        """Chip positions ``(..., in_dim)`` used by each row, and the code values there."""
        index = self._index(modality, device).expand(lead)  # (...)
        width = self.in_dim
        offset = index * width if self.config.mode == "subspace" else torch.zeros_like(index)
        chips = offset[..., None] + torch.arange(width, device=device)  # (..., in_dim)
        codes = self.codes[index]  # (..., dim)
        return chips, codes.gather(-1, chips)

    def spread(self, e: torch.Tensor, modality: str | int | torch.Tensor) -> torch.Tensor:
        """``(..., in_dim) -> (..., dim)``: ``c_m ⊙ (Q e)`` (full) or ``Q (c_m ⊙ P_m e)`` (subspace)."""
        if e.shape[-1] != self.in_dim:
            raise ValueError(
                f"expected meta-embeddings of dim {self.in_dim}, got shape {tuple(e.shape)}"
            )
        q = self._matrix(e)
        chips, code = self._chip_index(modality, e.shape[:-1], e.device)
        if self.config.mode == "full":
            return code.to(e.dtype) * (e @ q.T)  # row-vector form of c ⊙ (Q e)
        placed = e.new_zeros(*e.shape[:-1], self.dim).scatter(-1, chips, code.to(e.dtype) * e)
        return placed @ q.T  # (..., dim)

    def despread(self, x: torch.Tensor, modality: str | int | torch.Tensor) -> torch.Tensor:
        """``(..., dim) -> (..., in_dim)``, the exact inverse of `spread`."""
        if x.shape[-1] != self.dim:
            raise ValueError(
                f"expected spread vectors of dim {self.dim}, got shape {tuple(x.shape)}"
            )
        q = self._matrix(x)
        chips, code = self._chip_index(modality, x.shape[:-1], x.device)
        if self.config.mode == "full":
            return (code.to(x.dtype) * x) @ q  # Qᵀ (c ⊙ x) in row form
        return (x @ q).gather(-1, chips) * code.to(x.dtype)

    def forward(self, e: torch.Tensor, modality: str | int | torch.Tensor) -> torch.Tensor:
        return self.spread(e, modality)


def cross_modality_interference(
    spreading: GoldSpreading, num_samples: int = 2000, seed: int = 1_000_003
) -> dict[str, float]:
    """Cosine between the same meta-embedding spread into every pair of modalities.

    Host-side analysis: runs in float64 on the CPU (``spreading`` must be on the CPU).

    Returns:
        ``mean_abs_cos`` (per-sample |cos|, averaged over samples and pairs), ``mean_abs_bias``
        (|mean over samples of cos| per pair, averaged: the code-determined part) and
        ``max_abs_code_corr`` (max over pairs of |⟨c_a, c_b⟩| / chips used).
    """
    m = len(spreading.modalities)
    if m < 2:
        raise ValueError("interference needs at least two modalities")
    # Keep `seed` apart from the spreading's own seed: Q is the QR of the same Gaussian stream.
    gen = torch.Generator().manual_seed(seed)
    e = torch.randn(num_samples, spreading.in_dim, generator=gen, dtype=torch.float64)
    xs = [torch.nn.functional.normalize(spreading.spread(e, k), dim=-1) for k in range(m)]
    cos, bias, corr = [], [], []
    width = spreading.in_dim
    for a in range(m):
        for b in range(a + 1, m):
            c = (xs[a] * xs[b]).sum(-1)  # (S,)
            cos.append(c.abs().mean().item())
            bias.append(abs(c.mean().item()))
            if spreading.config.mode == "full":
                ca, cb = spreading.codes[a], spreading.codes[b]
                corr.append(abs(float(ca @ cb)) / width)
            else:
                corr.append(0.0)
    return {
        "mean_abs_cos": float(np.mean(cos)),
        "mean_abs_bias": float(np.mean(bias)),
        "max_abs_code_corr": float(np.max(corr)),
    }

"""`RQVAE`: MLP autoencoder with a residual vector quantizer, for semantic IDs.

RQ-VAE (Lee et al., 2022; as used for generative retrieval by TIGER, Rajput et al., 2023):
``z = E(x)``, ``z_q = RVQ(z)`` (`polytok.nn.ResidualVQ`: straight-through gradients,
commitment loss, k-means codebook initialisation, dead-code restart, optional Sinkhorn per
level), ``x_hat = D(z_q)``. The loss is ``sum_d (x_hat - x)^2`` (summed over dimensions, mean
over the batch) plus the quantizer loss. ``fit`` trains in plain PyTorch (`polytok.sid.training`);
the Lightning `polytok.systems.rqvae.RQVAESystem` trains the same way.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import asdict, dataclass, field
from typing import ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from polytok.nn.quantize import ResidualVQ
from polytok.saving import load_state, renamed_options
from polytok.sid.errors import NotFittedError
from polytok.sid.formats import Formatter
from polytok.sid.inputs import as_codes, as_matrix, like_input, semantic_ids
from polytok.sid.io import load_model_dir, save_model_dir
from polytok.sid.metrics import fit_metrics
from polytok.sid.rqkmeans_plus import rqkmeans_plus
from polytok.sid.training import seed_everything, train_rqvae

log = logging.getLogger(__name__)

LOSS_TYPES = ("mse", "l1")


@dataclass
class RQVAEConfig:
    """Configuration of `RQVAE`.

    Attributes:
        in_dim: input width.
        codebook_sizes: codewords per level, e.g. [256, 256, 256].
        e_dim: latent (codeword) width.
        layers: hidden widths of the encoder MLP (the decoder mirrors them).
        dropout: dropout after each hidden layer.
        commitment_weight: beta of the commitment loss.
        quant_weight: weight of the quantizer loss against the reconstruction loss.
        decay: EMA codebook decay; None trains the codebooks by the codebook loss.
        kmeans_init: initialise each level by k-means (on the data passed to ``fit``).
        dead_code_threshold: restart codes whose EMA count per batch falls below this.
        sinkhorn: balanced assignment in training, one flag for all levels or one per level.
        loss_type: reconstruction loss, "mse" (squared error summed over dimensions) or "l1"
            (absolute error summed over dimensions).
        residual: identity skip connections ``z = x + E(x)`` and ``x_hat = z_q + D(z_q)``
            (needs ``e_dim == in_dim``); used by RQ-KMeans+ (`RQVAE.from_rqkmeans`).

    ``codebook_sizes`` was called ``num_emb_list`` (semantic-id's name) before; the old name is
    still read from saved configs and accepted by `RQVAE` with a DeprecationWarning.
    """

    RENAMED: ClassVar[dict[str, str]] = {"num_emb_list": "codebook_sizes"}

    in_dim: int
    codebook_sizes: list[int] = field(default_factory=lambda: [256, 256, 256])
    e_dim: int = 32
    layers: list[int] = field(default_factory=lambda: [512, 256, 128])
    dropout: float = 0.0
    commitment_weight: float = 0.25
    quant_weight: float = 1.0
    decay: float | None = None
    kmeans_init: bool = True
    dead_code_threshold: float = 1.0
    sinkhorn: bool | list[bool] = False
    loss_type: str = "mse"
    residual: bool = False

    def __post_init__(self) -> None:
        if self.loss_type not in LOSS_TYPES:
            raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {self.loss_type!r}")
        if self.residual and self.e_dim != self.in_dim:
            raise ValueError(
                f"residual=True needs e_dim == in_dim (z = x + E(x)), got e_dim={self.e_dim}, "
                f"in_dim={self.in_dim}"
            )
        if self.in_dim < 1 or self.e_dim < 1:
            raise ValueError(f"in_dim and e_dim must be >= 1, got {self.in_dim} and {self.e_dim}")
        self.codebook_sizes = [int(k) for k in self.codebook_sizes]
        self.layers = [int(w) for w in self.layers]
        if not self.codebook_sizes or min(self.codebook_sizes) < 1:
            raise ValueError(f"codebook_sizes needs >= 1 positive sizes, got {self.codebook_sizes}")
        if self.layers and min(self.layers) < 1:
            raise ValueError(f"layers must be positive widths, got {self.layers}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if isinstance(self.sinkhorn, list | tuple):
            self.sinkhorn = [bool(s) for s in self.sinkhorn]
            if len(self.sinkhorn) != len(self.codebook_sizes):
                raise ValueError(
                    f"sinkhorn lists {len(self.sinkhorn)} flags for {len(self.codebook_sizes)} "
                    "levels; give one per level or a single bool"
                )


class RQVAEOutput(NamedTuple):
    """`RQVAE.forward` output: ``x_hat`` (B, in_dim), ``codes`` (B, L), scalar ``loss``,
    ``recon_loss`` and ``quant_loss``, ``perplexity`` (L,), ``usage`` (L,)."""

    x_hat: Tensor
    codes: Tensor
    loss: Tensor
    recon_loss: Tensor
    quant_loss: Tensor
    perplexity: Tensor
    usage: Tensor


def _mlp(widths: list[int], dropout: float) -> nn.Sequential:
    """Linear layers with ReLU (and dropout) between them, none after the last."""
    modules: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        modules.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            modules += [nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*modules)


class RQVAE(nn.Module):
    """Residual-quantized autoencoder producing (N, L) semantic codes.

    Args:
        in_dim, codebook_sizes, e_dim, layers, ...: `RQVAEConfig` fields.
        device: where the module lives and ``fit`` trains ("cpu", "cuda", "mps"); None keeps
            the default device (so the module also builds under ``torch.device("meta")``).
    """

    def __init__(self, in_dim: int, device: str | torch.device | None = None, **options) -> None:
        super().__init__()
        self.config = RQVAEConfig(in_dim=in_dim, **renamed_options(RQVAEConfig, options))
        cfg = self.config
        self.encoder = _mlp([cfg.in_dim, *cfg.layers, cfg.e_dim], cfg.dropout)
        self.decoder = _mlp([cfg.e_dim, *reversed(cfg.layers), cfg.in_dim], cfg.dropout)
        self.rvq = ResidualVQ(
            cfg.e_dim,
            cfg.codebook_sizes,
            commitment_weight=cfg.commitment_weight,
            decay=cfg.decay,
            kmeans_init=cfg.kmeans_init,
            dead_code_threshold=cfg.dead_code_threshold,
            sinkhorn=cfg.sinkhorn,
        )
        self.metrics_: dict = {}
        self.history_: dict[str, list[float]] = {}
        self._fresh = True  # never trained, loaded or warm-started: fit(seed) redraws weights
        if device is not None:
            self.to(device)

    @property
    def num_levels(self) -> int:
        """Number of code levels L (``len(codebook_sizes)``)."""
        return len(self.config.codebook_sizes)

    @property
    def n_levels(self) -> int:
        """Deprecated name of `num_levels`."""
        warnings.warn("RQVAE.n_levels is now num_levels", DeprecationWarning, stacklevel=2)
        return self.num_levels

    @property
    def is_fitted(self) -> bool:
        return all(bool(layer.initialized) for layer in self.rvq.layers)

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def latent(self, x: Tensor) -> Tensor:
        """(B, in_dim) -> (B, e_dim) encoder output (plus x when ``residual``)."""
        z = self.encoder(x)
        return z + x if self.config.residual else z

    def reconstruct(self, z_q: Tensor) -> Tensor:
        """(B, e_dim) quantized latent -> (B, in_dim) (plus z_q when ``residual``)."""
        x_hat = self.decoder(z_q)
        return x_hat + z_q if self.config.residual else x_hat

    def forward(self, x: Tensor) -> RQVAEOutput:
        """x (B, in_dim) -> `RQVAEOutput`."""
        z = self.latent(x)  # (B, in_dim) -> (B, e_dim)
        q = self.rvq(z)
        x_hat = self.reconstruct(q.quantized)  # (B, e_dim) -> (B, in_dim)
        err = x_hat - x
        recon = (err.abs() if self.config.loss_type == "l1" else err**2).sum(-1).mean()
        loss = recon + self.config.quant_weight * q.loss
        return RQVAEOutput(x_hat, q.codes, loss, recon, q.loss, q.perplexity, q.usage)

    @torch.no_grad()
    def init_codebooks(self, x: Tensor, batch_size: int, max_points: int = 65536) -> None:
        """k-means initialisation of every level on (a sample of) x, before training.

        Args:
            x: (N, in_dim) training vectors.
            batch_size: training batch size; the code counts are rescaled to counts per batch,
                the unit of ``dead_code_threshold``, so that restarts start working at once.
            max_points: run k-means on at most this many rows.
        """
        if not self.config.kmeans_init or self.is_fitted:
            return
        if x.shape[0] > max_points:
            idx = torch.randperm(x.shape[0], device=x.device)[:max_points]
            x = x[idx]
        was_training = self.training
        self.eval()
        z = self.latent(x)
        self.rvq.train()  # uninitialised levels run k-means on their residuals here
        self.rvq(z)
        scale = min(batch_size, x.shape[0]) / x.shape[0]
        for layer in self.rvq.layers:
            layer.cluster_size.mul_(scale)
            layer.embed_sum.mul_(scale)
        self.train(was_training)

    def fit(
        self,
        X,
        epochs: int = 20,
        batch_size: int = 1024,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        val_fraction: float = 0.0,
        seed: int = 0,
        enable_progress_bar: bool = False,
        lr_schedule: str = "cosine",
        warmup_epochs: float = 0.0,
        lr_step_size: float | None = None,
        lr_gamma: float = 0.5,
        **trainer_options,
    ) -> RQVAE:
        """Train on X (N, in_dim) on the model's device (`polytok.sid.training.train_rqvae`, plain
        PyTorch); returns self in eval mode.

        Args:
            X: (N, in_dim) training vectors.
            epochs, batch_size, lr, weight_decay: AdamW training.
            val_fraction: share of X held out; its loss is ``history_["val_loss"]``.
            seed: seeds everything, including the weights of a model that was never trained
                (two fresh models fitted with the same seed give the same codes).
            enable_progress_bar: log each epoch's losses (INFO).
            lr_schedule: "constant", "cosine" (to 0.1 x lr), "step" (times ``lr_gamma`` every
                ``lr_step_size`` epochs) or "golden"; all after a linear warm-up.
            warmup_epochs: linear warm-up length in epochs (fractions allowed).
            lr_step_size: epochs per step of the "step" schedule (default: a third of ``epochs``).
            lr_gamma: factor per step of the "step" schedule.

        ``metrics_`` then holds `polytok.sid.metrics.fit_metrics` over all of X and ``history_``
        the per-epoch means of ``loss``, ``recon_loss``, ``quant_loss`` and the learning rate.
        Loggers, checkpoints and several devices: the Lightning `RQVAESystem`
        (``python train.py task=rqvae``), which trains the same way.

        Raises:
            TypeError: Lightning ``Trainer`` options, which this loop does not take.
            ValueError: more codewords than samples, or a bad training option.
        """
        x = self._start_fit(X, seed, batch_size, trainer_options)
        schedule = {"lr_schedule": lr_schedule, "warmup_epochs": warmup_epochs,
                    "lr_step_size": lr_step_size, "lr_gamma": lr_gamma}  # fmt: skip
        self.history_ = train_rqvae(
            self, x, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
            val_fraction=val_fraction, seed=seed, log_epochs=enable_progress_bar, **schedule,
        )  # fmt: skip
        self.eval()
        self.metrics_ = self.evaluate(x)
        log.info("RQVAE fit: %s", self.metrics_)
        return self

    def _start_fit(self, X, seed: int, batch_size: int, trainer_options: dict) -> Tensor:
        """Check the input, seed everything, redraw a fresh model's weights from ``seed`` and
        initialise the codebooks by k-means on all of X; returns X as a (N, in_dim) tensor."""
        if trainer_options:
            raise TypeError(
                f"RQVAE.fit trains in plain PyTorch and takes no Lightning Trainer options "
                f"({sorted(trainer_options)}); for loggers, checkpoints or several devices train "
                "with polytok.systems.rqvae.RQVAESystem (python train.py task=rqvae)"
            )
        x = as_matrix(X, dim=self.config.in_dim)
        if max(self.config.codebook_sizes) > x.shape[0]:
            raise ValueError(
                f"codebook_sizes {self.config.codebook_sizes} asks for more codewords than samples "
                f"({x.shape[0]}); use smaller codebooks or more data"
            )
        seed_everything(seed)
        if self._fresh:
            self.reset_parameters(seed)
        self._fresh = False
        self.init_codebooks(x.to(self._device()), batch_size)
        return x

    def no_decay_parameters(self) -> list[nn.Parameter]:
        """The codebooks: (K, D) matrices that must not decay towards zero."""
        return [layer.codebook for layer in self.rvq.layers]

    @torch.no_grad()
    def reset_parameters(self, seed: int) -> None:
        """Re-draw the encoder and decoder weights from ``seed`` (CPU generator: the same draw
        on every device) and mark the codebooks for k-means initialisation."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            fresh = RQVAE(device="cpu", **asdict(self.config))
        self.encoder.load_state_dict(fresh.encoder.state_dict())
        self.decoder.load_state_dict(fresh.decoder.state_dict())

    @classmethod
    def from_rqkmeans(cls, rq, layers: list[int] | None = None, **options) -> RQVAE:
        """RQ-KMeans+: an RQ-VAE that starts exactly at ``rq``'s reconstruction
        (`polytok.sid.rqkmeans_plus.rqkmeans_plus`)."""
        return rqkmeans_plus(cls, rq, layers=layers, **options)

    @torch.no_grad()
    def evaluate(self, X) -> dict:
        """`fit_metrics` of X (N, in_dim): relative MSE, usage, perplexity, collisions."""
        x = as_matrix(X, dim=self.config.in_dim).to(self._device())
        was_training = self.training
        self.eval()
        codes, x_hat = [], []
        for chunk in x.split(65536):
            out = self(chunk)
            codes.append(out.codes)
            x_hat.append(out.x_hat)
        self.train(was_training)
        return fit_metrics(x, x - torch.cat(x_hat), torch.cat(codes), self.config.codebook_sizes)

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError("this RQVAE is not fitted yet; call fit(X) or RQVAE.load(dir)")

    @torch.no_grad()
    def encode(self, X):
        """X (N, in_dim) -> codes (N, L) int64 (numpy in, numpy out; tensor in, tensor out)."""
        self._check_fitted()
        x = as_matrix(X, dim=self.config.in_dim).to(self._device())
        was_training = self.training
        self.eval()
        codes = torch.cat([self.rvq(self.latent(c)).codes for c in x.split(65536)])
        self.train(was_training)
        return like_input(codes, X)

    @torch.no_grad()
    def decode(self, codes):
        """codes (N, L) -> reconstructions (N, in_dim)."""
        self._check_fitted()
        c = as_codes(codes, self.num_levels).to(self._device())
        for level, size in enumerate(self.config.codebook_sizes):
            if c.numel() and (int(c[:, level].min()) < 0 or int(c[:, level].max()) >= size):
                raise ValueError(
                    f"codes at level {level} must lie in [0, {size}), got out-of-range"
                )
        was_training = self.training
        self.eval()
        x_hat = self.reconstruct(self.rvq.decode(c))
        self.train(was_training)
        return like_input(x_hat, codes)

    def semantic_id(
        self, codes, sep: str = "-", fmt: str = "plain", formatter: Formatter | None = None
    ) -> list[str]:
        """(N, L) codes -> ``["3-9-1", ...]``; ``fmt="token"`` gives ``"<a_3><b_9><c_1>"``,
        ``formatter`` (row of ints -> str) any other form."""
        return semantic_ids(as_codes(codes, self.num_levels), sep, fmt, formatter)

    def save(self, directory: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Write ``config.json`` + ``model.safetensors`` to ``directory`` atomically.

        An existing ``directory`` is replaced only if polytok wrote it, or with ``overwrite``.
        """
        self._check_fitted()
        save_model_dir(
            directory,
            "RQVAE",
            {"config": asdict(self.config), "metrics": self.metrics_},
            self.state_dict(),
            overwrite=overwrite,
        )

    @classmethod
    def load(cls, directory: str | os.PathLike, device: str | torch.device = "cpu") -> RQVAE:
        """Read a directory written by `save` (local files only, strict)."""
        header, tensors = load_model_dir(directory, "RQVAE")
        try:
            model = cls(device="cpu", **header["config"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{str(directory)!r}: invalid config.json ({err})") from err
        load_state(model, tensors, directory)
        model.metrics_ = header.get("metrics", {})
        model._fresh = False
        return model.to(device)

"""Hydra task ``rqvae``: ``python train.py experiment=rqvae_digits`` trains an `RQVAE`.

``cfg.data`` names the vectors: ``{kind: npy, path: X.npy}`` (``path: null`` trains on
`sample_vectors`, a built-in Gaussian mixture, with a warning), ``{kind: dialog_embeddings,
language: english}`` (dialog lines embedded by `polytok.embed.StaticEmbedder`) or
``{kind: digits}`` (scikit-learn's 8x8 digit images, scaled to [0, 1]); plus ``batch_size`` and
``val_fraction``. ``cfg.model`` holds `RQVAEConfig` fields (``in_dim`` comes from the data) and
``cfg.system`` (config group ``system: rqvae``) the `RQVAESystem` scalars. Everything is validated before training starts.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from polytok.data import load_source
from polytok.embed import StaticEmbedder
from polytok.saving import renamed_options
from polytok.sid.inputs import as_matrix, gaussian_mixture
from polytok.sid.rqvae import RQVAEConfig
from polytok.systems.rqvae import RQVAESystem, VectorDataModule
from polytok.tasks.registry import train_task
from polytok.tasks.runtime import (
    discard_incomplete,
    make_trainer,
    output_dir,
    system_options,
    to_dict,
)

log = logging.getLogger(__name__)

KINDS = ("npy", "dialog_embeddings", "digits")
DATA_KEYS = {"kind", "path", "language", "batch_size", "val_fraction", "max_rows"}


def dialog_lines(language: str = "english", split: str = "train") -> list[str]:
    """Non-empty lines of the chatterbot dialog corpus (`polytok.data.load_source`)."""
    docs = load_source({"name": "dialog", "language": language}).documents(split)
    return [line.strip() for doc in docs for line in doc.splitlines() if line.strip()]


def sample_vectors(n: int = 4000, dim: int = 32, components: int = 64, seed: int = 0) -> np.ndarray:
    """The demo data of ``rqvae_npy``: `gaussian_mixture` with unit-scale means."""
    return gaussian_mixture(n, dim, components, seed=seed, spread=0.3)


def load_vectors(data: dict[str, Any]) -> torch.Tensor:
    """(N, D) float32 vectors named by a ``data`` config (see the module docstring)."""
    unknown = sorted(set(data) - DATA_KEYS)
    if unknown:
        raise ValueError(f"unknown data keys {unknown}; valid keys: {sorted(DATA_KEYS)}")
    kind = data.get("kind")
    if kind == "npy":
        path = data.get("path")
        if path is None:
            log.warning(
                "data.path is not set: training on the built-in Gaussian-mixture sample "
                "(sample_vectors); pass data.path=X.npy to train on your vectors"
            )
            x = sample_vectors()
        elif not str(path).endswith(".npy"):
            raise ValueError(f"data.path must name an .npy file, got {path!r}")
        else:
            x = _load_npy(path)
    elif kind == "dialog_embeddings":
        lines = dialog_lines(data.get("language", "english"))
        x = StaticEmbedder().embed(lines)
    elif kind == "digits":
        from sklearn.datasets import load_digits

        x = load_digits().data.astype(np.float32) / 16.0
    else:
        raise ValueError(f"data.kind must be one of {KINDS}, got {kind!r}")
    x = as_matrix(x, name=f"data ({kind})")
    if data.get("max_rows"):
        x = x[: int(data["max_rows"])]
    return x


def _load_npy(path: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"data.path {path!r} does not exist") from err
    except (ValueError, OSError) as err:
        raise ValueError(f"data.path {path!r} is not a readable .npy array: {err}") from err


@train_task("rqvae")
def train(cfg: DictConfig) -> dict[str, Any]:
    """Train an RQ-VAE, save it to ``<output_dir>/rqvae`` and return its metrics."""
    out_dir = output_dir(cfg)
    try:
        data = dict(to_dict(cfg.data))
        x = load_vectors(data)
        model = {k: v for k, v in (to_dict(cfg.model) or {}).items() if k != "name"}
        model["in_dim"] = int(x.shape[1])
        model = renamed_options(RQVAEConfig, model)  # num_emb_list -> codebook_sizes
        RQVAEConfig(**model)  # validate before any work
        if max(model.get("codebook_sizes", [256])) > x.shape[0]:
            raise ValueError(
                f"model.codebook_sizes {model.get('codebook_sizes')} has more codewords than the "
                f"{x.shape[0]} vectors; use smaller codebooks"
            )
        options = system_options(cfg, RQVAESystem, exclude=("model", "module"))
        system = RQVAESystem(model=model, **options)
        datamodule = VectorDataModule(
            x,
            batch_size=int(data.get("batch_size", 256)),
            val_fraction=float(data.get("val_fraction", 0.1)),
            seed=int(cfg.get("seed", 0)),
        )
    except (ValueError, TypeError, FileNotFoundError):
        discard_incomplete(out_dir)
        raise
    trainer = make_trainer(cfg)
    trainer.fit(system, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    if not trainer.is_global_zero:  # DDP: rank 0 evaluates and writes the files
        return {"metrics": {}, "output_dir": str(out_dir)}
    vae = system.model.cpu()
    vae.metrics_ = vae.evaluate(x)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    fit = vae.metrics_
    metrics.update({f"sid/{k}": float(v) for k, v in fit.items() if not isinstance(v, list)})
    for i, (usage, perplexity) in enumerate(zip(fit["usage"], fit["perplexity"])):
        metrics[f"sid/usage_l{i}"], metrics[f"sid/perplexity_l{i}"] = usage, perplexity
    pretrained = out_dir / "rqvae"
    vae.save(pretrained)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    log.info("RQ-VAE saved to %s: %s", pretrained, metrics)
    return {"metrics": metrics, "pretrained": str(pretrained), "output_dir": str(out_dir)}

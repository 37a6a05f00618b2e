"""Loading Lightning checkpoints without ever unpickling code.

`read_checkpoint` is the one place that opens a ``.ckpt``: ``torch.load(..., weights_only=True)``
passed explicitly, so neither an old torch default (2.2-2.5 load with ``weights_only=False``) nor
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` can make it run a pickle. `WeightsOnlyLoad` gives a
LightningModule a ``load_from_checkpoint`` that goes through it, so the documented
``LanguageModelSystem.load_from_checkpoint(path)`` is safe as written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

__all__ = ["WeightsOnlyLoad", "checkpoint_kind", "read_checkpoint"]


def read_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a polytok Lightning checkpoint with ``weights_only=True``.

    Args:
        path: a ``.ckpt`` file written by ``train.py``.
        map_location: as in `torch.load`.

    Returns:
        The checkpoint dict (``state_dict``, ``hyper_parameters``, trainer state).

    Raises:
        FileNotFoundError: ``path`` does not exist. IsADirectoryError: it is a directory.
        ValueError: the file is corrupt, holds code, or is not a polytok checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"checkpoint {path} is a directory; pass the .ckpt file inside it, e.g. "
            f"ckpt_path={path / 'last.ckpt'}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; pass ckpt_path=PATH/last.ckpt")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise ValueError(
            f"checkpoint {path} is corrupt or not a Lightning checkpoint: {err}"
        ) from err
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise ValueError(f"checkpoint {path} has no state_dict; not a polytok .ckpt")
    if not isinstance(ckpt.get("hyper_parameters"), dict):
        raise ValueError(f"checkpoint {path} has no hyper_parameters; not a polytok .ckpt")
    return ckpt


def checkpoint_kind(hparams: dict[str, Any]) -> str:
    """Which polytok system wrote a checkpoint, from its hyperparameters.

    Returns:
        ``"lm"`` (`LanguageModelSystem`: model + tokenizer), ``"rqvae"`` (`RQVAESystem`: an
        RQ-VAE config without a tokenizer) or ``"unknown"``.
    """
    if "tokenizer" in hparams and "model" in hparams:
        return "lm"
    model = hparams.get("model")
    if (
        isinstance(model, dict)
        and ("codebook_sizes" in model or "num_emb_list" in model)
        and "tokenizer" not in hparams
    ):
        return "rqvae"
    return "unknown"


class WeightsOnlyLoad:
    """Mixin for a LightningModule: ``load_from_checkpoint`` through `read_checkpoint`.

    The module is rebuilt from the checkpoint's primitive hyperparameters (``kwargs`` override
    them) and its ``state_dict`` is loaded strictly; no pickle is ever executed.
    """

    @classmethod
    def load_from_checkpoint(
        cls,
        checkpoint_path: str | os.PathLike,
        map_location: Any = None,
        hparams_file: str | os.PathLike | None = None,
        strict: bool | None = None,
        weights_only: bool | None = True,
        **kwargs: Any,
    ):
        """Load a checkpoint written by ``train.py`` (``weights_only=True`` always).

        Raises:
            ValueError: ``weights_only=False`` or ``hparams_file`` was asked for (unsupported: a
                polytok checkpoint records its hyperparameters), or the file is not usable.
        """
        if weights_only is False:
            raise ValueError(
                "polytok checkpoints hold only tensors and primitive hyperparameters and always "
                "load with weights_only=True; drop weights_only=False"
            )
        if hparams_file is not None:
            raise ValueError("hparams_file is not supported: the checkpoint records them")
        ckpt = read_checkpoint(checkpoint_path, map_location or "cpu")
        hparams = {**ckpt["hyper_parameters"], **kwargs}
        try:
            module = cls(**hparams)
        except TypeError as err:
            raise ValueError(
                f"checkpoint {checkpoint_path} was not written by {cls.__name__} "
                f"(it looks like a {checkpoint_kind(ckpt['hyper_parameters'])!r} checkpoint): "
                f"{err}"
            ) from err
        except ValueError as err:  # e.g. a corrupt tokenizer spec in the hyperparameters
            raise ValueError(f"checkpoint {checkpoint_path}: {err}") from err
        module.on_load_checkpoint(ckpt)
        module.load_state_dict(ckpt["state_dict"], strict=True if strict is None else strict)
        tensor = next((t for t in ckpt["state_dict"].values() if torch.is_tensor(t)), None)
        return module if tensor is None else module.to(tensor.device)

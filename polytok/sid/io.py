"""Model directories for semantic-ID models: ``config.json`` + ``model.safetensors``.

Writes are atomic (assembled in a temporary sibling directory, then renamed); reads are strict
and name the problem (missing, corrupt, foreign, wrong class) without executing anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from polytok.atomic import atomic_directory

FORMAT = "polytok-sid"
FORMAT_VERSION = 1


def save_model_dir(
    directory: str | os.PathLike,
    class_name: str,
    meta: dict,
    tensors: dict,
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``config.json`` (format, version, class, ``meta``) and ``model.safetensors``.

    Args:
        directory: destination; replaced atomically if it is a directory polytok wrote.
        class_name: the model class recorded for `load_model_dir`.
        meta: JSON-serialisable configuration and metrics.
        tensors: name -> tensor (moved to CPU, made contiguous).
        overwrite: replace whatever stands at ``directory`` (see `atomic_directory`).

    Raises:
        FileExistsError: ``directory`` exists and is not polytok's, and not ``overwrite``.
    """
    directory = Path(directory)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "class": class_name, **meta}
    with atomic_directory(directory, overwrite=overwrite) as tmp:
        (tmp / "config.json").write_text(json.dumps(header, indent=2))
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
            str(tmp / "model.safetensors"),
        )
    return directory


def load_model_dir(directory: str | os.PathLike, class_name: str) -> tuple[dict, dict]:
    """Read a directory written by `save_model_dir` for ``class_name``.

    Returns:
        (header dict, name -> CPU tensor).

    Raises:
        FileNotFoundError: the directory or one of its files is missing.
        ValueError: the files are corrupt, of another format, or of another class.
    """
    directory = Path(directory)
    config_path, weights_path = directory / "config.json", directory / "model.safetensors"
    if not directory.is_dir():
        raise FileNotFoundError(f"model directory {str(directory)!r} does not exist")
    for path in (config_path, weights_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{str(directory)!r} is not a {class_name} directory: {path.name} is missing"
            )
    try:
        header = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"corrupt {config_path}: {err}; re-save the model") from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(
            f"{str(directory)!r} holds no polytok semantic-ID model (format "
            f"{header.get('format') if isinstance(header, dict) else None!r}, expected {FORMAT!r})"
        )
    if header.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{config_path} has format_version {header.get('format_version')!r}; this polytok "
            f"reads version {FORMAT_VERSION}"
        )
    if header.get("class") != class_name:
        raise ValueError(
            f"{str(directory)!r} holds a {header.get('class')!r}, not a {class_name}; "
            f"load it with {header.get('class')}.load"
        )
    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"corrupt {weights_path}: {err}; re-save the model") from err
    return header, tensors


def check_state(module: torch.nn.Module, tensors: dict, directory: str | os.PathLike) -> None:
    """Load ``tensors`` strictly into ``module``; mismatches raise a ValueError naming the dir."""
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{str(directory)!r}: weights do not match the config: {err}") from err

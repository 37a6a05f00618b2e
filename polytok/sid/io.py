"""Model directories for semantic-ID models: ``config.json`` + ``model.safetensors``.

Format ``polytok-sid``, version 1, written and read with the shared helpers of `polytok.saving`:
writes are atomic, reads are strict and name the problem (missing, corrupt, foreign, wrong class)
without executing anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from polytok.saving import load_tensors, read_header, save_directory, save_tensors

FORMAT = "polytok-sid"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
WHAT = "polytok semantic-ID model"


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
        overwrite: replace whatever stands at ``directory`` (see `polytok.atomic`).

    Raises:
        FileExistsError: ``directory`` exists and is not polytok's, and not ``overwrite``.
    """
    directory = Path(directory)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "class": class_name, **meta}
    with save_directory(directory, header, overwrite=overwrite) as tmp:
        save_tensors(tmp / WEIGHTS_FILE, tensors)
    return directory


def load_model_dir(directory: str | os.PathLike, class_name: str) -> tuple[dict, dict]:
    """Read a directory written by `save_model_dir` for ``class_name``.

    Returns:
        (header dict, name -> CPU tensor).

    Raises:
        FileNotFoundError: the directory or one of its files is missing.
        ValueError: the files are corrupt, of another format, or of another class.
    """
    header = read_header(
        directory, what=WHAT, version=FORMAT_VERSION, fmt=FORMAT, class_name=class_name
    )
    return header, load_tensors(Path(directory) / WEIGHTS_FILE, what=class_name)

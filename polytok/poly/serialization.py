"""``save_pretrained`` / ``from_pretrained`` for `PolyTokenizer` (local directories only).

Layout of a registry directory:

- ``config.json``: ``{"class": "PolyTokenizer", "format_version": 1, "config": {...},
  "modalities": [...], "versions": {...}, "base": {modality: tokenizer spec}}``;
- ``vocab.json``: token ids per modality and row order + init fingerprints per table;
- ``tables.safetensors``: every store table (used rows only);
- ``base_embeddings.safetensors``: registered base embedding matrices (optional).

The registry keeps its own header (a ``class`` and ``format_version``, no ``format`` field) and is
written and read with the shared helpers of `polytok.saving`: saving is atomic (a temporary
directory next to the target, swapped in whole; only a directory polytok wrote is replaced).
Nothing is executed on load: `PolyTokenizer.from_pretrained` builds the registry from the parts
that `read_registry` returns, tokenizers come from the explicit `SPEC_TYPES` registry. This module
knows the files, not the registry class (no import cycle).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import torch

from polytok.saving import (
    load_tensors,
    read_header,
    read_json,
    save_directory,
    save_tensors,
    write_json,
)

FORMAT_VERSION = 1
CLASS_NAME = "PolyTokenizer"
WHAT = "PolyTokenizer"
HINT = "; from_pretrained reads local directories written by save_pretrained, never a hub"


class RegistryFiles(NamedTuple):
    """What a registry directory holds (see module docstring)."""

    config: dict[str, Any]  # `PolyTokenizerConfig` fields
    modalities: list[str]  # modalities in code order
    structure: dict[str, Any]  # `VersionTable.to_json()[0]`: versions and OOV buckets
    vocab: dict[str, Any]  # `VersionTable.to_json()[1]`: ids, rows and digests
    base_specs: dict[str, dict[str, Any]]  # modality -> base tokenizer spec
    tables: dict[str, torch.Tensor]  # store key -> (rows, dim)
    base_weights: dict[str, torch.Tensor]  # modality -> (V, in_dim)


def write_registry(
    path: str | os.PathLike,
    *,
    config: dict[str, Any],
    modalities: list[str],
    structure: dict[str, Any],
    vocab: dict[str, Any],
    base_specs: dict[str, dict[str, Any]],
    tables: dict[str, torch.Tensor],
    base_weights: dict[str, torch.Tensor],
    overwrite: bool = False,
) -> Path:
    """Write a registry directory atomically; returns its absolute path.

    Only a directory polytok wrote is replaced, unless ``overwrite``; a symlink at ``path`` is
    never resolved (saving through it used to wipe the directory it points to).
    """
    target = Path(os.path.abspath(path))
    meta = {
        "class": CLASS_NAME,
        "format_version": FORMAT_VERSION,
        "config": config,
        "modalities": modalities,
        "oov_buckets": structure["oov_buckets"],
        "versions": structure["versions"],
        "base": base_specs,
    }
    with save_directory(target, meta, overwrite=overwrite, sort_keys=True) as tmp:
        write_json(tmp / "vocab.json", vocab, sort_keys=True)
        save_tensors(tmp / "tables.safetensors", tables)
        if base_weights:
            save_tensors(tmp / "base_embeddings.safetensors", base_weights)
    return target


def read_registry(path: str | os.PathLike) -> RegistryFiles:
    """Read a directory written by `write_registry` (nothing is executed; tensors on the CPU).

    Raises:
        FileNotFoundError: ``path`` is not a local directory with ``config.json``.
        ValueError: a different class or a newer format version, or a corrupt file (named).
    """
    root = Path(path)
    meta = read_header(root, what=WHAT, version=FORMAT_VERSION, class_name=CLASS_NAME, hint=HINT)
    weights = {}
    if os.path.lexists(root / "base_embeddings.safetensors"):
        weights = load_tensors(root / "base_embeddings.safetensors", what=WHAT)
    try:
        return RegistryFiles(
            config=dict(meta["config"]),
            modalities=list(meta["modalities"]),
            structure={"oov_buckets": meta["oov_buckets"], "versions": meta["versions"]},
            vocab=read_json(root / "vocab.json", what=WHAT),
            base_specs=dict(meta["base"]),
            tables=load_tensors(root / "tables.safetensors", what=WHAT),
            base_weights=weights,
        )
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, ValueError) and str(root) in str(err):
            raise
        raise ValueError(
            f"{root / 'config.json'} is corrupt (missing or malformed {err}); re-save the registry"
        ) from err

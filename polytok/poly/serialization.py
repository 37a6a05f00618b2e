"""``save_pretrained`` / ``from_pretrained`` for `PolyTokenizer` (local directories only).

Layout of a registry directory:

- ``config.json``: ``{"class": "PolyTokenizer", "format_version": 1, "config": {...},
  "modalities": [...], "versions": {...}, "base": {modality: tokenizer spec}}``;
- ``vocab.json``: token ids per modality and row order + init fingerprints per table;
- ``tables.safetensors``: every store table (used rows only);
- ``base_embeddings.safetensors``: registered base embedding matrices (optional).

Saving is atomic: everything is written to a temporary directory next to the target, then moved
into place with ``os.replace`` (the previous directory is swapped out first and deleted after).
Nothing is executed on load: `PolyTokenizer.from_pretrained` builds the registry from the parts
that `read_registry` returns, tokenizers come from the explicit `SPEC_TYPES` registry. This module
knows the files, not the registry class (no import cycle).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors.torch import load_file, save_file

from polytok.atomic import atomic_directory

FORMAT_VERSION = 1
CLASS_NAME = "PolyTokenizer"


class RegistryFiles(NamedTuple):
    """What a registry directory holds (see module docstring)."""

    config: dict[str, Any]  # `PolyTokenizerConfig` fields
    modalities: list[str]  # modalities in code order
    structure: dict[str, Any]  # `VersionTable.to_json()[0]`: versions and OOV buckets
    vocab: dict[str, Any]  # `VersionTable.to_json()[1]`: ids, rows and digests
    base_specs: dict[str, dict[str, Any]]  # modality -> base tokenizer spec
    tables: dict[str, torch.Tensor]  # store key -> (rows, dim)
    base_weights: dict[str, torch.Tensor]  # modality -> (V, in_dim)


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True), encoding="utf-8")


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
    with atomic_directory(target, overwrite=overwrite) as tmp:
        meta = {
            "class": CLASS_NAME,
            "format_version": FORMAT_VERSION,
            "config": config,
            "modalities": modalities,
            "oov_buckets": structure["oov_buckets"],
            "versions": structure["versions"],
            "base": base_specs,
        }
        _write_json(tmp / "config.json", meta)
        _write_json(tmp / "vocab.json", vocab)
        save_file(tables, str(tmp / "tables.safetensors"), metadata={"format": "pt"})
        if base_weights:
            base = {m: w.contiguous() for m, w in base_weights.items()}
            save_file(base, str(tmp / "base_embeddings.safetensors"), metadata={"format": "pt"})
    return target


def _read_json(path: Path, kind: type) -> Any:
    """Parse a registry JSON file, naming it when it is corrupt or of the wrong shape."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is corrupt ({err}); re-save the registry") from err
    if not isinstance(data, kind):
        raise ValueError(f"{path} is corrupt: expected a JSON {kind.__name__}")
    return data


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Load a registry safetensors file, naming it when it is missing or unreadable."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; the registry is incomplete")
    try:
        return load_file(str(path))
    except Exception as err:  # SafetensorError, or OSError for devices and links
        raise ValueError(f"{path} is not a readable safetensors file ({err})") from err


def read_registry(path: str | os.PathLike) -> RegistryFiles:
    """Read a directory written by `write_registry` (nothing is executed; tensors on the CPU).

    Raises:
        FileNotFoundError: ``path`` is not a local directory with ``config.json``.
        ValueError: a different class or a newer format version, or a corrupt file (named).
    """
    root = Path(path)
    if not (root / "config.json").is_file():
        raise FileNotFoundError(
            f"{str(path)!r} is not a PolyTokenizer directory (no config.json); from_pretrained "
            f"reads local directories written by save_pretrained, never a hub"
        )
    meta = _read_json(root / "config.json", dict)
    if meta.get("class") != CLASS_NAME:
        raise ValueError(f"{root} holds a {meta.get('class')!r}, not a {CLASS_NAME}")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{root} was written in registry format {version!r}, newer than this polytok supports "
            f"({FORMAT_VERSION}); upgrade polytok to read it"
        )
    weights = {}
    if os.path.lexists(root / "base_embeddings.safetensors"):
        weights = _read_tensors(root / "base_embeddings.safetensors")
    try:
        return RegistryFiles(
            config=dict(meta["config"]),
            modalities=list(meta["modalities"]),
            structure={"oov_buckets": meta["oov_buckets"], "versions": meta["versions"]},
            vocab=_read_json(root / "vocab.json", dict),
            base_specs=dict(meta["base"]),
            tables=_read_tensors(root / "tables.safetensors"),
            base_weights=weights,
        )
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, ValueError) and str(root) in str(err):
            raise
        raise ValueError(
            f"{root / 'config.json'} is corrupt (missing or malformed {err}); re-save the registry"
        ) from err

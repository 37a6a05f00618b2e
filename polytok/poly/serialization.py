"""``save_pretrained`` / ``from_pretrained`` for `PolyTokenizer` (local directories only).

Layout of a registry directory:

- ``config.json``: ``{"class": "PolyTokenizer", "format_version": 1, "config": {...},
  "modalities": [...], "versions": {...}, "base": {modality: tokenizer spec}}``;
- ``vocab.json``: token ids per modality and row order + init fingerprints per table;
- ``tables.safetensors``: every store table (used rows only);
- ``base_embeddings.safetensors``: registered base embedding matrices (optional).

Saving is atomic: everything is written to a temporary directory next to the target, then moved
into place with ``os.replace`` (the previous directory is swapped out first and deleted after).
Nothing is executed on load: the class comes from this module, tokenizers from the explicit
`SPEC_TYPES` registry.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors.torch import load_file, save_file

from polytok.atomic import atomic_directory
from polytok.tokenizers.base import tokenizer_from_spec

if TYPE_CHECKING:
    from polytok.poly.registry import PolyTokenizer

FORMAT_VERSION = 1
CLASS_NAME = "PolyTokenizer"


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True), encoding="utf-8")


def save_pretrained(poly: PolyTokenizer, path: str | os.PathLike, save_base: bool = True) -> Path:
    """Write ``poly`` to directory ``path`` atomically; returns the path."""
    target = Path(path).resolve()
    with atomic_directory(target) as tmp:
        config = {
            "class": CLASS_NAME,
            "format_version": FORMAT_VERSION,
            "config": poly.config_dict(),
            "modalities": list(poly.spreading.modalities),
            "oov_buckets": dict(poly._oov),
            "versions": {
                m: [[v, poly._parents[(m, v)]] for v in poly._versions[m]] for m in poly._versions
            },
            "base": {m: tok.to_spec() for m, tok in poly._base.items()},
        }
        vocab = {
            "ids": {m: sorted(ids, key=ids.__getitem__) for m, ids in poly._ids.items()},
            "tables": {
                f"{m}:{v}": {
                    "tokens": poly.tokens(m, v),
                    "digests": [poly._digests[(m, v)][t] for t in poly.tokens(m, v)],
                }
                for (m, v) in poly._rows
            },
        }
        _write_json(tmp / "config.json", config)
        _write_json(tmp / "vocab.json", vocab)
        save_file(poly.store.export(), str(tmp / "tables.safetensors"), metadata={"format": "pt"})
        if save_base and poly._base_weight:
            base = {m: w.contiguous() for m, w in poly._base_weight.items()}
            save_file(base, str(tmp / "base_embeddings.safetensors"), metadata={"format": "pt"})
    return target


def from_pretrained(path: str | os.PathLike) -> PolyTokenizer:
    """Load a registry directory written by `save_pretrained`.

    Raises:
        FileNotFoundError: ``path`` is not a local directory with ``config.json``.
        ValueError: a different class, a newer format version, or unknown config keys.
    """
    from polytok.poly.registry import PolyTokenizer, PolyTokenizerConfig

    root = Path(path)
    if not (root / "config.json").is_file():
        raise FileNotFoundError(
            f"{str(path)!r} is not a PolyTokenizer directory (no config.json); from_pretrained "
            f"reads local directories written by save_pretrained, never a hub"
        )
    meta = json.loads((root / "config.json").read_text(encoding="utf-8"))
    if meta.get("class") != CLASS_NAME:
        raise ValueError(f"{root} holds a {meta.get('class')!r}, not a {CLASS_NAME}")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{root} was written in registry format {version!r}, newer than this polytok supports "
            f"({FORMAT_VERSION}); upgrade polytok to read it"
        )
    options = dict(meta["config"])
    options["modalities"] = tuple(meta["modalities"])
    try:
        config = PolyTokenizerConfig(**options)
    except TypeError as err:
        raise ValueError(f"{root}/config.json has unknown config keys: {err}") from err
    poly = PolyTokenizer(config)
    for modality, versions in meta["versions"].items():
        for name, parent in versions:
            if name not in poly._versions[modality]:
                poly.add_version(modality, name, parent=parent)
    vocab = json.loads((root / "vocab.json").read_text(encoding="utf-8"))
    poly._oov = {m: int(n) for m, n in meta["oov_buckets"].items()}
    poly.store.load_tables(load_file(str(root / "tables.safetensors")))
    for modality, tokens in vocab["ids"].items():
        poly._ids[modality] = {t: i for i, t in enumerate(tokens)}
    for key, table in vocab["tables"].items():
        modality, _, name = key.partition(":")
        poly._rows[(modality, name)] = {t: i for i, t in enumerate(table["tokens"])}
        poly._digests[(modality, name)] = dict(zip(table["tokens"], table["digests"]))
    weights = {}
    if (root / "base_embeddings.safetensors").is_file():
        weights = load_file(str(root / "base_embeddings.safetensors"))
    for modality, spec in meta["base"].items():
        poly.register_base(tokenizer_from_spec(spec), weights.get(modality), modality=modality)
    return poly

"""Inference checkpoints: ``save_pretrained(model, dir, tokenizer)`` / ``from_pretrained(dir)``.

A directory holds ``config.json`` (format, version, the registered model name and its config
dataclass), ``model.safetensors`` (``safetensors.torch.save_model``, which handles tied weights)
and ``tokenizer/``. Loading reads local files only, strictly, and resolves the class through the
registry `polytok.models.MODELS` (every built-in model registered by `polytok.catalog`): nothing in
a file can name code to run.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

import polytok.catalog  # noqa: F401  (registers every built-in model and tokenizer type)
from polytok.atomic import atomic_directory
from polytok.generation import SamplingConfig, generate
from polytok.models.registry import build_config, model_class, registered_name
from polytok.tokenizers import load_tokenizer, save_tokenizer

FORMAT = "polytok-lm"
FORMAT_VERSION = 1


class PretrainedLM(NamedTuple):
    """A loaded model and its tokenizer; unpacks as ``model, tokenizer = from_pretrained(dir)``."""

    model: nn.Module
    tokenizer: Any

    def generate(self, prompt: str, max_new_tokens: int = 100, seed: int = 0, **sampling) -> str:
        """Continue ``prompt``; ``sampling`` are `polytok.generation.SamplingConfig` fields."""
        ids = self.tokenizer.encode(prompt) or [self.tokenizer.eos_id or 0]
        device = next(self.model.parameters()).device
        x = torch.tensor([ids], dtype=torch.long, device=device)
        out = generate(self.model, x, max_new_tokens, SamplingConfig(**sampling), seed=seed)
        return self.tokenizer.decode(out[0, len(ids) :].tolist())


def save_pretrained(
    model: nn.Module,
    directory: str | os.PathLike,
    tokenizer: Any = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` (and ``tokenizer``) to ``directory`` atomically; returns the path.

    The directory is assembled next to its destination and swapped in with a rename, so a crash
    never leaves a half-written directory under the final name. An existing ``directory`` is
    replaced only if polytok wrote it (or with ``overwrite``; see `polytok.atomic`).

    Raises:
        FileExistsError: ``directory`` exists and is not polytok's, and not ``overwrite``.
    """
    from safetensors.torch import save_model

    directory = Path(directory)
    name = registered_name(model)
    config = dataclasses.asdict(model.config)
    if "pretrained" in config:
        config["pretrained"] = None  # weights live in model.safetensors, not the source dir
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": name, "config": config}
    with atomic_directory(directory, overwrite=overwrite) as tmp:
        (tmp / "config.json").write_text(json.dumps(meta, indent=2))
        save_model(model, str(tmp / "model.safetensors"))
        if tokenizer is not None:
            save_tokenizer(tokenizer, tmp / "tokenizer")
    return directory


def from_pretrained(
    directory: str | os.PathLike, device: str | torch.device = "cpu"
) -> PretrainedLM:
    """Load a directory written by `save_pretrained` (local files only, strict), or a glyph
    adaptation's adapter or merged directory (`polytok.glyph.adapted_save`)."""
    from safetensors.torch import load_model

    directory = Path(directory)
    from polytok.glyph.adapted_save import load_glyph_pretrained

    glyph = load_glyph_pretrained(directory)  # glyph adapter / merged Hugging Face directories
    if glyph is not None:
        return PretrainedLM(glyph[0].to(device).eval(), glyph[1])
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(
            f"{directory} has no config.json: not a polytok save_pretrained directory "
            "(pass the directory that train.py printed as 'pretrained')"
        )
    try:
        meta = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{config_path} is not valid JSON text ({err}); the checkpoint is corrupt"
        ) from err
    if not isinstance(meta, dict):
        raise ValueError(f"{config_path} is not a JSON object; the checkpoint is corrupt")
    if meta.get("format") != FORMAT:
        raise ValueError(f"{config_path} has format {meta.get('format')!r}, expected {FORMAT!r}")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(
            f"{directory} was written by a newer polytok (format_version "
            f"{meta['format_version']} > {FORMAT_VERSION}); upgrade polytok to load it"
        )
    cls = model_class(meta["model"])
    model = cls(build_config(cls, meta["config"]))
    weights = directory / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} is missing; the checkpoint directory is incomplete")
    try:
        load_model(model, str(weights), strict=True, device=str(device))
    except Exception as err:
        raise ValueError(f"cannot load {weights}: {err}") from err
    tokenizer = (
        load_tokenizer(directory / "tokenizer") if (directory / "tokenizer").exists() else None
    )
    return PretrainedLM(model.to(device).eval(), tokenizer)


__all__ = ["PretrainedLM", "from_pretrained", "save_pretrained"]

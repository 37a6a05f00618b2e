"""Inference checkpoints: ``save_pretrained(model, dir, tokenizer)`` / ``from_pretrained(dir)``.

A directory holds ``config.json`` (format, version, the registered model name and its config
dataclass), ``model.safetensors`` (``safetensors.torch.save_model``, which handles tied weights)
and ``tokenizer/``. Loading reads local files only, strictly, and resolves the class through the
registry `polytok.models.MODELS` (every built-in model registered by `polytok.catalog`): nothing in
a file can name code to run.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

import polytok.catalog  # noqa: F401  (registers every built-in model and tokenizer type)
from polytok.generation import SamplingConfig, generate
from polytok.models.registry import build_config, model_class, registered_name
from polytok.saving import load_module, read_header, save_directory, save_module
from polytok.tokenizers import load_tokenizer, save_tokenizer

FORMAT = "polytok-lm"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
WHAT = "polytok language model"
HINT = " (pass the directory that train.py printed as 'pretrained')"


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
    directory = Path(directory)
    name = registered_name(model)
    config = dataclasses.asdict(model.config)
    if "pretrained" in config:
        config["pretrained"] = None  # weights live in model.safetensors, not the source dir
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": name, "config": config}
    with save_directory(directory, meta, overwrite=overwrite) as tmp:
        save_module(tmp / WEIGHTS_FILE, model)
        if tokenizer is not None:
            save_tokenizer(tokenizer, tmp / "tokenizer")
    return directory


def from_pretrained(
    directory: str | os.PathLike, device: str | torch.device = "cpu"
) -> PretrainedLM:
    """Load a directory written by `save_pretrained` (local files only, strict), or a glyph
    adaptation's adapter or merged directory (`polytok.glyph.adapted_save`)."""
    directory = Path(directory)
    from polytok.glyph.adapted_save import load_glyph_pretrained

    glyph = load_glyph_pretrained(directory)  # glyph adapter / merged Hugging Face directories
    if glyph is not None:
        return PretrainedLM(glyph[0].to(device).eval(), glyph[1])
    meta = read_header(directory, what=WHAT, version=FORMAT_VERSION, fmt=FORMAT, hint=HINT)
    if not isinstance(meta.get("config"), dict):
        raise ValueError(f"{directory / 'config.json'} is corrupt: no 'config' object; re-save it")
    cls = model_class(meta.get("model"))
    model = cls(build_config(cls, meta["config"]))
    load_module(model, directory / WEIGHTS_FILE, what=WHAT, device=device)
    tokenizer = (
        load_tokenizer(directory / "tokenizer") if (directory / "tokenizer").exists() else None
    )
    return PretrainedLM(model.to(device).eval(), tokenizer)


__all__ = ["PretrainedLM", "from_pretrained", "save_pretrained"]

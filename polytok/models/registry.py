"""The model registry: config name (``model.name``) -> class, filled where each class is defined.

A model class joins with ``@register_model("name")``; this module names none of them, so the
models of other subsystems (`polytok.reso.ResoFormer`, `polytok.glyph.GlyphGPT2`) register
without a cycle. `polytok.catalog` imports every module that registers a built-in model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from torch import nn

from polytok.saving import renamed_options

# name in configs (model.name) -> class. Checkpoints name a key here, never code.
MODELS: dict[str, type[nn.Module]] = {}

M = TypeVar("M", bound=type)


def register_model(name: str) -> Callable[[M], M]:
    """Class decorator: ``build_model({"name": name, ...}, tokenizer)`` builds this class.

    Raises:
        ValueError: ``name`` is already registered to another class.
    """

    def register(cls: M) -> M:
        known = MODELS.get(name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"model name {name!r} is already registered to {known.__qualname__}")
        MODELS[name] = cls
        return cls

    return register


def model_class(name: str) -> type[nn.Module]:
    """The class registered as ``name``.

    Raises:
        ValueError: unknown name (the registered names are listed).
    """
    if name not in MODELS:
        raise ValueError(
            f"unknown model name {name!r}; valid names: {sorted(MODELS)}. A model registers "
            "when the module defining it is imported (`import polytok.catalog` registers every "
            "built-in model)"
        )
    return MODELS[name]


def registered_name(model: nn.Module) -> str:
    """The name ``type(model)`` is registered under.

    Raises:
        ValueError: the class is not registered.
    """
    for name, cls in MODELS.items():
        if cls is type(model):
            return name
    raise ValueError(
        f"{type(model).__name__} is not in polytok.models.MODELS ({sorted(MODELS)}); "
        "register it with @polytok.models.register_model(name) to save it with save_pretrained"
    )


def build_config(cls: type, options: Mapping[str, Any]) -> Any:
    """Build ``cls.config_class`` from a mapping, failing on unknown keys with the valid ones.

    Option names a config class renamed (its ``RENAMED`` table, old -> new) are accepted with a
    DeprecationWarning (`polytok.saving.renamed_options`), so older configs and checkpoints keep
    loading.
    """
    config_cls = cls.config_class
    options = renamed_options(config_cls, options)
    valid = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(options) - valid)
    if unknown:
        raise ValueError(
            f"unknown {config_cls.__name__} option(s) {unknown}; valid options: {sorted(valid)}"
        )
    return config_cls(**dict(options))


def build_model(config: Mapping[str, Any], tokenizer: Any) -> nn.Module:
    """Build a model from ``{"name": ..., **options}`` for the given tokenizer."""
    options = dict(config)
    name = options.pop("name", None)
    if name is None:
        raise ValueError(f"model config needs a 'name' (one of {sorted(MODELS)}), got {config!r}")
    return model_class(name).from_tokenizer(options, tokenizer)

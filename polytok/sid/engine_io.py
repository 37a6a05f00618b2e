"""`SemanticIdEngine` directories: the encoder, the ID format and the resolver with its store.

Layout (written atomically, read strictly; nothing is unpickled)::

    DIR/engine.json   format, version, sep, fmt, formatter ("custom" or null), resolver settings
    DIR/encoder/      the encoder's own directory (`RQKMeans.save` / `RQVAE.save`)
    DIR/store.json    the assignments of an in-memory store (a SQLite store is referenced by
                      its absolute path: it is shared state, never copied)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from polytok.atomic import atomic_directory
from polytok.sid.formats import Formatter
from polytok.sid.sinkhorn_resolver import SinkhornResolver
from polytok.sid.unique import InMemoryCollisionStore, SQLiteCollisionStore, UniqueIdResolver

FORMAT = "polytok-sid-engine"
FORMAT_VERSION = 1


def load_encoder(directory: str | os.PathLike, device: str = "cpu"):
    """Load an `RQKMeans` or `RQVAE` directory, choosing the class from an explicit registry."""
    from polytok.sid.rqkmeans import RQKMeans
    from polytok.sid.rqvae import RQVAE

    registry = {"RQKMeans": RQKMeans, "RQVAE": RQVAE}
    path = Path(directory) / "config.json"
    name = None
    if path.is_file():
        try:
            name = json.loads(path.read_text()).get("class")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as err:
            raise ValueError(f"corrupt {path}: {err}; re-save the model") from err
    cls = registry.get(name, RQKMeans)  # unknown classes fail in RQKMeans.load with a message
    return cls.load(directory, device=device)


def _resolver_config(resolver) -> dict:
    if isinstance(resolver, SinkhornResolver):
        return {
            "kind": "sinkhorn",
            "fallback_suffix": resolver.fallback_suffix,
            "sep": resolver.sep,
        }
    if not isinstance(resolver, UniqueIdResolver):
        raise ValueError(f"cannot save a resolver of type {type(resolver).__name__}")
    store = resolver.store
    if isinstance(store, SQLiteCollisionStore):
        store_cfg = {
            "kind": "sqlite",
            "path": str(store.path.resolve()),
            "batch_size": store.batch_size,
            "timeout": store.timeout,
        }
    elif isinstance(store, InMemoryCollisionStore):
        store_cfg = {"kind": "memory"}
    else:
        raise ValueError(f"cannot save a store of type {type(store).__name__}")
    return {"kind": "unique", "style": resolver.style, "sep": resolver.sep, "store": store_cfg}


def save_engine(engine, directory: str | os.PathLike) -> Path:
    """Write ``engine`` to ``directory`` (replaced atomically).

    Raises:
        NotFittedError: the encoder is not fitted.
        ValueError: a resolver or store this module cannot describe.
    """
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sep": engine.sep,
        "fmt": engine.fmt,
        "formatter": "custom" if engine.formatter is not None else None,
        "resolver": _resolver_config(engine.resolver),
    }
    directory = Path(directory)
    with atomic_directory(directory) as tmp:
        engine.encoder.save(tmp / "encoder")
        if config["resolver"].get("store", {}).get("kind") == "memory":
            state = engine.resolver.store.state()
            (tmp / "store.json").write_text(json.dumps(state))
        (tmp / "engine.json").write_text(json.dumps(config, indent=2))
    return directory


def _read_config(directory: Path) -> dict:
    path = directory / "engine.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{str(directory)!r} is not a SemanticIdEngine directory: no engine.json"
        )
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"corrupt {path}: {err}; re-save the engine") from err
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{path} is not a polytok semantic-ID engine (format {FORMAT!r})")
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format_version {config.get('format_version')!r}; need 1")
    return config


def _make_resolver(cfg: dict, directory: Path, store_path) -> UniqueIdResolver | SinkhornResolver:
    if cfg.get("kind") == "sinkhorn":
        return SinkhornResolver(fallback_suffix=bool(cfg["fallback_suffix"]), sep=cfg["sep"])
    if cfg.get("kind") != "unique":
        raise ValueError(f"{directory}: unknown resolver kind {cfg.get('kind')!r}")
    store_cfg = cfg["store"]
    if store_cfg["kind"] == "sqlite":
        path = store_path if store_path is not None else store_cfg["path"]
        store = SQLiteCollisionStore(path, store_cfg["batch_size"], store_cfg["timeout"])
    else:
        state_path = directory / "store.json"
        try:
            state = json.loads(state_path.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"missing or corrupt {state_path}: {err}; re-save the engine") from err
        store = InMemoryCollisionStore.from_state(state)
    return UniqueIdResolver(store, style=cfg["style"], sep=cfg["sep"])


def read_engine(
    directory: str | os.PathLike,
    device: str = "cpu",
    formatter: Formatter | None = None,
    store_path: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Read an engine directory into the keyword arguments of `SemanticIdEngine`.

    Args:
        directory: written by `save_engine`.
        device: where the encoder goes.
        formatter: the custom formatter, required when the engine was saved with one (a
            callable cannot be stored).
        store_path: use this SQLite file instead of the recorded path (moved machines).

    Raises:
        FileNotFoundError: no engine directory.
        ValueError: corrupt or foreign files, or a missing ``formatter``.
    """
    directory = Path(directory)
    config = _read_config(directory)
    if config.get("formatter") == "custom" and formatter is None:
        raise ValueError(
            f"{str(directory)!r} was saved with a custom formatter; pass the same callable: "
            "SemanticIdEngine.load(dir, formatter=...)"
        )
    encoder = load_encoder(directory / "encoder", device=device)
    resolver = _make_resolver(config["resolver"], directory, store_path)
    return {
        "encoder": encoder,
        "unique_resolver": resolver,
        "sep": config["sep"],
        "fmt": config["fmt"],
        "formatter": formatter,
    }

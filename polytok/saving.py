"""One way to save: a directory of ``config.json`` plus safetensors files, written atomically.

Every saved artefact of polytok (language models `polytok.io`, semantic-ID models
`polytok.sid.io`, the poly registry `polytok.poly.serialization`, and the tokenizer files of
`polytok.tokenizers.storage`) is written with these helpers: a directory assembled next to its
destination and swapped in whole (`polytok.atomic.atomic_directory`, which refuses to replace
what polytok did not write), a JSON header naming its format and format version (each artefact
keeps its own), and tensors in safetensors files. Reading checks the header strictly and never
executes anything: no pickle, no class path taken from a file. Every error names the file and
says how to fix it.

torch and safetensors are imported by the functions that need them, so the JSON helpers serve
torch-free layers (tokenizers) too.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polytok.atomic import atomic_directory, write_text_atomic

if TYPE_CHECKING:
    import torch
    from torch import nn

CONFIG_FILE = "config.json"
__all__ = [
    "CONFIG_FILE",
    "check_format_version",
    "load_module",
    "load_state",
    "load_tensors",
    "read_header",
    "read_json",
    "renamed_options",
    "save_directory",
    "save_module",
    "save_tensors",
    "write_json",
]


def write_json(
    path: str | os.PathLike, obj: Any, *, indent: int = 2, sort_keys: bool = False
) -> None:
    """``obj`` as indented UTF-8 JSON, written atomically (`polytok.atomic.write_text_atomic`)."""
    text = json.dumps(obj, indent=indent, ensure_ascii=False, sort_keys=sort_keys)
    write_text_atomic(path, text)


@contextmanager
def save_directory(
    directory: str | os.PathLike,
    header: dict[str, Any],
    *,
    overwrite: bool = False,
    sort_keys: bool = False,
) -> Iterator[Path]:
    """Yield a temporary directory holding ``config.json`` (``header``); the block adds the rest.

    When the block succeeds the temporary directory replaces ``directory`` in one rename; when it
    raises, ``directory`` is left as it was.

    Raises:
        FileExistsError: ``directory`` exists, polytok did not write it, and not ``overwrite``
            (see `polytok.atomic.atomic_directory`).
    """
    with atomic_directory(directory, overwrite=overwrite) as tmp:
        write_json(tmp / CONFIG_FILE, header, sort_keys=sort_keys)
        yield tmp


def read_json(path: str | os.PathLike, *, what: str, kind: type = dict) -> Any:
    """Parse a JSON file of a saved ``what`` ("tokenizer", "RQKMeans", ...).

    Raises:
        ValueError: the file is not UTF-8 JSON text, or its top level is not a ``kind``.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path} is not valid JSON text ({err}); {path.name} is corrupt, re-save the {what}"
        ) from err
    if not isinstance(data, kind):
        raise ValueError(
            f"{path} is corrupt: expected a JSON {kind.__name__}, got a {type(data).__name__}; "
            f"re-save the {what}"
        )
    return data


def check_format_version(found: Any, version: int, path: str | os.PathLike) -> None:
    """Accept format versions 1 to ``version`` (the one this polytok writes).

    Raises:
        ValueError: a newer version (upgrade polytok), or one that is not a positive integer.
    """
    if isinstance(found, int) and found > version:
        raise ValueError(
            f"{path} has format_version {found}, newer than this polytok supports ({version}): "
            "it was written by a newer polytok; upgrade polytok to read it"
        )
    if not isinstance(found, int) or isinstance(found, bool) or found < 1:
        raise ValueError(
            f"{path} has format_version {found!r}; this polytok reads version {version}"
        )


def read_header(
    directory: str | os.PathLike,
    *,
    what: str,
    version: int,
    fmt: str | None = None,
    class_name: str | None = None,
    hint: str = "",
) -> dict[str, Any]:
    """Read and check ``directory/config.json`` as written by `save_directory`.

    Args:
        directory: a local directory (never a hub name).
        what: the artefact in words, for messages ("polytok semantic-ID model", ...).
        version: the format version this polytok writes; newer ones are refused.
        fmt: the expected ``format`` field (None: the format has none).
        class_name: the expected ``class`` field (None: not checked).
        hint: appended to the not-found messages (how to get a valid directory).

    Raises:
        FileNotFoundError: the directory or its config.json is missing.
        ValueError: corrupt JSON, another format or class, an unreadable version.
    """
    directory = Path(directory)
    path = directory / CONFIG_FILE
    if not directory.is_dir():
        raise FileNotFoundError(f"{what} directory {str(directory)!r} does not exist{hint}")
    if not path.is_file():
        raise FileNotFoundError(
            f"{str(directory)!r} is not a {what} directory: {CONFIG_FILE} is missing{hint}"
        )
    header = read_json(path, what=what)
    if fmt is not None and header.get("format") != fmt:
        raise ValueError(
            f"{str(directory)!r} holds no {what} (format {header.get('format')!r}, expected "
            f"{fmt!r})"
        )
    check_format_version(header.get("format_version"), version, path)
    if class_name is not None and header.get("class") != class_name:
        raise ValueError(
            f"{str(directory)!r} holds a {header.get('class')!r}, not a {class_name}; load it "
            f"with the {header.get('class')} class"
        )
    return header


def save_tensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor]) -> None:
    """Name -> tensor to a safetensors file (moved to the CPU, made contiguous)."""
    from safetensors.torch import save_file

    cpu = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    save_file(cpu, str(path), metadata={"format": "pt"})


def save_module(path: str | os.PathLike, module: nn.Module) -> None:
    """A module's weights to a safetensors file (`safetensors.torch.save_model`: tied weights
    are stored once)."""
    from safetensors.torch import save_model

    save_model(module, str(path))


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; the {what} directory is incomplete")


def load_tensors(path: str | os.PathLike, *, what: str) -> dict[str, torch.Tensor]:
    """Name -> CPU tensor from a safetensors file of a saved ``what`` (nothing is executed).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is not a readable safetensors file.
    """
    from safetensors.torch import load_file

    path = Path(path)
    _require_file(path, what)
    try:
        return load_file(str(path))
    except Exception as err:  # SafetensorError, or OSError for devices and links
        raise ValueError(
            f"{path} is not a readable safetensors file ({err}); it is corrupt, re-save the {what}"
        ) from err


def load_module(
    module: nn.Module, path: str | os.PathLike, *, what: str, device: str | torch.device = "cpu"
) -> None:
    """Load a file written by `save_module` into ``module`` strictly (every key, every shape).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is corrupt or its tensors do not match the module.
    """
    from safetensors.torch import load_model

    path = Path(path)
    _require_file(path, what)
    try:
        load_model(module, str(path), strict=True, device=str(device))
    except Exception as err:
        raise ValueError(f"cannot load {path}: {err}") from err


def load_state(
    module: nn.Module, tensors: Mapping[str, torch.Tensor], directory: str | os.PathLike
) -> None:
    """``module.load_state_dict(tensors, strict=True)``; a mismatch names ``directory``.

    Raises:
        ValueError: missing, unexpected or differently shaped tensors.
    """
    try:
        module.load_state_dict(dict(tensors), strict=True)
    except RuntimeError as err:
        raise ValueError(f"{str(directory)!r}: weights do not match the config: {err}") from err


def renamed_options(config_cls: type, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with the names that ``config_cls.RENAMED`` (old -> new) retired replaced by
    their new names, each with a DeprecationWarning, so older configs, checkpoints and calls keep
    working.

    Raises:
        ValueError: an old name and its new name are both given.
    """
    renamed = getattr(config_cls, "RENAMED", {})
    out: dict[str, Any] = {}
    for key, value in options.items():
        new = renamed.get(key)
        if new is None:
            out[key] = value
            continue
        if new in options:
            raise ValueError(
                f"{config_cls.__name__}: pass {new!r} or its old name {key!r}, not both"
            )
        warnings.warn(
            f"{config_cls.__name__} option {key!r} is now called {new!r}; the old name will "
            "stop working in a future polytok",
            DeprecationWarning,
            stacklevel=3,
        )
        out[new] = value
    return out

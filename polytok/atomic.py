"""Atomic writes: readers see the old file or directory, or the whole new one, never a part.

`atomic_directory` replaces only what polytok wrote: every directory it creates holds a marker
file (``.polytok``), and an existing destination without one (a user's directory, a regular file,
a symlink) is refused unless ``overwrite=True``. Nothing is ever deleted through a symlink, and new
files and directories get the modes the umask gives, not the private ones of ``mkstemp``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MARKER = ".polytok"
__all__ = ["MARKER", "atomic_directory", "is_polytok_directory", "write_text_atomic"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a synced temp file in the same directory.

    The file gets mode ``0o666 & ~umask`` like one made by ``open(path, "w")``.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def is_polytok_directory(path: str | os.PathLike) -> bool:
    """True when ``path`` is a real directory (not a symlink) that `atomic_directory` wrote."""
    path = Path(path)
    return not path.is_symlink() and path.is_dir() and (path / MARKER).is_file()


def _check_destination(directory: Path, overwrite: bool) -> None:
    """Refuse to replace anything polytok did not write, unless ``overwrite``."""
    if overwrite or not os.path.lexists(directory):
        return
    if directory.is_symlink():
        what = f"a symlink (to {os.readlink(directory)})"
    elif directory.is_dir():
        if is_polytok_directory(directory) or not any(directory.iterdir()):
            return  # our own output, or an empty directory: nothing of the user's is lost
        what = f"a directory that polytok did not write (no {MARKER} marker)"
    else:
        what = "a file" if directory.is_file() else "a special file"
    raise FileExistsError(
        f"{directory} already exists and is {what}; refusing to replace it. Choose another "
        "path, remove it yourself, or pass overwrite=True (--overwrite on the command line) "
        "to replace it (a symlink itself is replaced, never what it points to)"
    )


@contextmanager
def atomic_directory(directory: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temp directory next to ``directory``; swap it in when the block succeeds.

    Args:
        directory: the destination. If it exists it must be a directory polytok wrote (it holds
            the ``.polytok`` marker) or an empty directory; anything else raises
            `FileExistsError` before any work, unless ``overwrite``.
        overwrite: replace whatever stands at ``directory``. A symlink there is replaced itself;
            the directory it points to is never touched.

    An existing destination is moved aside and the new directory renamed in (two renames), then
    the old one is removed (``shutil.rmtree`` unlinks symlinks inside it without following them).
    When the block raises, the temp directory is removed and ``directory`` is left as it was.

    Raises:
        FileExistsError: the destination is not polytok's and ``overwrite`` is False.
    """
    directory = Path(os.path.abspath(directory))  # normalised, but symlinks are not resolved
    _check_destination(directory, overwrite)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700
        (tmp / MARKER).write_text(json.dumps({"written_by": "polytok"}) + "\n")
        yield tmp
        _check_destination(directory, overwrite)  # something may have appeared meanwhile
        old = None
        if os.path.lexists(directory):
            old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
            os.replace(directory, old / "previous")  # rename: moves a symlink, not its target
        os.replace(tmp, directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

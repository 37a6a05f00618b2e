"""Tokenize a split once and cache the ids on disk as a memory-mapped ``.npy`` file.

The cache file name is keyed by the source fingerprint (spec + content), the tokenizer fingerprint
(its spec: vocabulary, merges, special tokens) and the split, so a different corpus, tokenizer or
split never reads stale ids. Files are written atomically (temporary file in the same directory,
then ``os.replace``), so a crash or a concurrent writer never leaves a half-written cache.

Layout of a split: the documents' ids one after another, with the tokenizer's ``eos_id`` between
two documents when it has one, else the ids of the text ``"\\n\\n"``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from polytok.data.sources import TextSource
from polytok.data.splits import validate_split
from polytok.tokenizers.base import TextTokenizer, tokenizer_fingerprint

log = logging.getLogger(__name__)

CACHE_FORMAT_VERSION = 1
DOCUMENT_SEPARATOR = "\n\n"  # between documents when the tokenizer has no eos id
_BATCH_BYTES = 1 << 20  # encode about 1 MB of text per encode_batch call
_PROGRESS_MIN_BYTES = 1 << 20  # show a progress bar for splits larger than this


def default_cache_dir() -> Path:
    """``$POLYTOK_CACHE/tokens`` when ``POLYTOK_CACHE`` is set, else ``~/.cache/polytok/tokens``."""
    root = os.environ.get("POLYTOK_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "polytok"
    return base / "tokens"


def id_dtype(vocab_size: int) -> np.dtype:
    """``uint16`` when every id fits (``vocab_size <= 65536``), else ``uint32``."""
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


def cache_path(
    cache_dir: str | Path, source: TextSource, tokenizer: TextTokenizer, split: str
) -> Path:
    """Where the ids of ``split`` of ``source`` under ``tokenizer`` are cached."""
    validate_split(split)
    name = (
        f"{source.name}-{source.fingerprint[:20]}-{tokenizer_fingerprint(tokenizer)}-"
        f"{split}-v{CACHE_FORMAT_VERSION}.npy"
    )
    return Path(cache_dir).expanduser() / name


def encode_documents(
    documents: list[str], tokenizer: TextTokenizer, *, desc: str = ""
) -> np.ndarray:
    """Encode documents into one id stream (separators as in the module docstring).

    Args:
        documents: the texts, in order.
        tokenizer: any `TextTokenizer`.
        desc: progress-bar label (a bar is shown for more than 1 MB of text).

    Returns:
        ids: ``(N,)`` array of dtype `id_dtype(tokenizer.vocab_size)`.

    Raises:
        ValueError: the tokenizer produced an id outside ``[0, vocab_size)``.
    """
    vocab = tokenizer.vocab_size
    eos = tokenizer.eos_id
    separator = [eos] if eos is not None else tokenizer.encode(DOCUMENT_SEPARATOR)
    sizes = [len(doc.encode("utf-8")) for doc in documents]
    parts: list[np.ndarray] = []
    bar = tqdm(
        total=sum(sizes),
        unit="B",
        unit_scale=True,
        desc=f"tokenizing {desc}".strip(),
        disable=sum(sizes) < _PROGRESS_MIN_BYTES,
    )
    with bar:
        start = 0
        while start < len(documents):
            stop, batch_bytes = start, 0
            while stop < len(documents) and (stop == start or batch_bytes < _BATCH_BYTES):
                batch_bytes += sizes[stop]
                stop += 1
            for i, ids in enumerate(tokenizer.encode_batch(documents[start:stop]), start):
                if i > 0:
                    parts.append(np.asarray(separator, dtype=np.int64))
                parts.append(np.asarray(ids, dtype=np.int64))
            bar.update(batch_bytes)
            start = stop
    ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab):
        raise ValueError(
            f"tokenizer {tokenizer.name!r} produced ids in [{ids.min()}, {ids.max()}] outside "
            f"[0, vocab_size={vocab}); its vocab_size is wrong"
        )
    return ids.astype(id_dtype(vocab))


def _atomic_save(path: Path, ids: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, ids)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_or_build(
    cache_dir: str | Path, source: TextSource, tokenizer: TextTokenizer, split: str
) -> np.ndarray:
    """The ids of ``split``, memory-mapped read-only from the cache (built on a miss).

    Returns:
        ids: ``(N,)`` read-only memory-mapped array (``uint16`` or ``uint32``).
    """
    path = cache_path(cache_dir, source, tokenizer, split)
    if path.is_file():
        try:
            ids = np.load(path, mmap_mode="r")
            if ids.ndim == 1 and ids.dtype == id_dtype(tokenizer.vocab_size):
                log.debug("token cache hit: %s", path)
                return ids
        except (ValueError, OSError) as exc:  # unreadable file: rebuild it
            log.warning("token cache %s is unreadable (%s); rebuilding", path, exc)
    ids = encode_documents(source.documents(split), tokenizer, desc=f"{source.name}/{split}")
    _atomic_save(path, ids)
    log.info(
        "cached %d %s tokens of %s/%s at %s", ids.size, tokenizer.name, source.name, split, path
    )
    return np.load(path, mmap_mode="r")

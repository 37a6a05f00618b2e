"""Exact token counts of text streams in bounded memory (``polytok count`` of huge files).

A stream is cut into segments whose counts add up exactly to the count of the whole text:

* tiktoken encodings split text with a regular expression before BPE, and BPE never merges
  across those pieces. A segment ends at a piece boundary found by that same expression, well
  before the end of the buffered text (the last pieces, which text still to come could extend,
  stay buffered), after a piece that ends in a non-space character (a whitespace piece is
  decided by a lookahead, ``\s+(?!\S)``, and would come out longer at the end of a segment), so
  every piece of every segment is a piece of the whole text.
* the script approximation (`polytok.count.approx`) is linear in per-class character and run
  counts: segment features are summed (a run cut in two is counted once) and the estimate is
  taken of the total, so rounding happens once, as for the whole text.
* other strategies (local HF tokenizers) count the joined text: memory is then bounded by the
  caller's size limit only.

`read_text_stream` decodes bytes strictly as UTF-8 and refuses binary input (a NUL byte or an
invalid sequence) with the name and byte offset, and stops at a size limit.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

import numpy as np

from polytok.count.backends import ApproxBackend, TiktokenBackend
from polytok.count.counter import CountResult, TokenCounter
from polytok.count.scripts import NUM_CLASSES, classify, script_features

__all__ = ["count_stream", "open_text_input", "read_text_input", "read_text_stream"]

BLOCK_BYTES = 1 << 20  # bytes read at a time
MIN_SEGMENT_CHARS = 1 << 16  # buffer at least this much text before looking for a cut
MAX_PIECE_CHARS = 1 << 23  # a single pre-tokenizer piece longer than this is refused
_SAFETY = 16  # pieces ending this close to the buffer's end stay buffered


def read_text_stream(
    source: BinaryIO | TextIO, name: str, max_bytes: int | None = None
) -> Iterator[str]:
    """Yield the text of ``source`` block by block, decoded strictly as UTF-8.

    Args:
        source: a binary file (or a text stream such as a replaced ``sys.stdin``).
        name: the file's name for messages (``"stdin"``).
        max_bytes: refuse input longer than this (``None``: no limit).

    Raises:
        ValueError: binary input (NUL byte, invalid UTF-8; offset named) or over ``max_bytes``.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset = 0
    while True:
        block = source.read(BLOCK_BYTES)
        if not block:
            break
        if isinstance(block, str):  # a text stream: already decoded
            data = block.encode("utf-8", "surrogatepass")
        else:
            data = block
        nul = data.find(b"\0")
        if nul >= 0:
            raise ValueError(
                f"{name} looks binary (a NUL byte at byte {offset + nul}); polytok count reads "
                "UTF-8 text"
            )
        try:
            text = block if isinstance(block, str) else decoder.decode(block)
        except UnicodeDecodeError as err:
            raise ValueError(
                f"{name} is not UTF-8 text (invalid byte 0x{block[err.start]:02x} at byte "
                f"{offset + err.start}); polytok count reads UTF-8 text"
            ) from None
        offset += len(data)
        if max_bytes is not None and offset > max_bytes:
            raise ValueError(
                f"{name} is larger than the limit of {max_bytes} bytes; raise it with "
                "--max-bytes (counting streams in bounded memory)"
            )
        yield text
    try:
        yield decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ValueError(f"{name} ends inside a UTF-8 sequence; it is not UTF-8 text") from None


@contextmanager
def open_text_input(name: str, max_bytes: int | None = None) -> Iterator[Iterator[str]]:
    """``with open_text_input(path or "-") as blocks:`` the text of a file or stdin, streamed.

    Raises:
        IsADirectoryError: ``name`` is a directory. FileNotFoundError: it does not exist.
        ValueError: binary input or over ``max_bytes`` (see `read_text_stream`).
    """
    if name == "-":
        yield read_text_stream(getattr(sys.stdin, "buffer", sys.stdin), "stdin", max_bytes)
        return
    path = Path(name)
    if path.is_dir():
        raise IsADirectoryError(f"{name} is a directory; pass the files in it, e.g. {name}/*.txt")
    if not path.exists():
        raise FileNotFoundError(f"no such file: {name}")
    with open(path, "rb") as source:
        yield read_text_stream(source, name, max_bytes)


def read_text_input(name: str, max_bytes: int | None = None) -> str:
    """The whole text of a file or ``-`` (stdin), decoded strictly (`open_text_input`)."""
    with open_text_input(name, max_bytes) as blocks:
        return "".join(blocks)


def _tiktoken_segments(pattern, chunks: Iterable[str], name: str) -> Iterator[str]:
    """Cut ``chunks`` at pre-tokenizer piece boundaries (module docstring)."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk
        if len(buffer) < MIN_SEGMENT_CHARS:
            continue
        cut = 0
        limit = len(buffer) - _SAFETY
        for match in pattern.finditer(buffer):
            end = match.end()
            if end > limit:
                break
            if not buffer[end - 1].isspace():  # a whitespace piece could grow at end of text
                cut = end
        if cut > 0:
            yield buffer[:cut]
            buffer = buffer[cut:]
        elif len(buffer) > MAX_PIECE_CHARS:
            raise ValueError(
                f"{name} has no token boundary in {MAX_PIECE_CHARS} characters; it does not "
                "look like text"
            )
    if buffer:
        yield buffer


def _count_approx(backend: ApproxBackend, chunks: Iterable[str]) -> int:
    """The script approximation of the concatenated chunks (features summed, one rounding)."""
    total = np.zeros(2 * NUM_CLASSES, dtype=np.float64)
    last_class: int | None = None
    empty = True
    for chunk in chunks:
        if not chunk:
            continue
        empty = False
        total += script_features(chunk)
        first = int(classify(chunk[0])[0])
        if last_class is not None and first == last_class:
            total[NUM_CLASSES + first] -= 1  # one run across the cut, counted twice
        last_class = int(classify(chunk[-1])[0])
    if empty:
        return 0
    calibration = backend.calibration
    value = float(
        total[:NUM_CLASSES] @ calibration.char_rates + total[NUM_CLASSES:] @ calibration.run_rates
    )
    return max(1, round(value))


def count_stream(
    counter: TokenCounter, model: str, chunks: Iterable[str], name: str = "input"
) -> CountResult:
    """Count the tokens of the concatenation of ``chunks`` for ``model`` (not cached).

    Args:
        counter: the `TokenCounter` (its registry resolves ``model``).
        model: the model id.
        chunks: the text in pieces, e.g. `read_text_stream`.
        name: the input's name for messages.

    Returns:
        A `CountResult` equal to ``counter.count(model, "".join(chunks))`` (``cached=False``).
    """
    info, backend = counter._lookup(model)
    if isinstance(backend, TiktokenBackend):
        import regex

        pattern = regex.compile(backend.encoding._pat_str)
        count = sum(backend.count_one(s) for s in _tiktoken_segments(pattern, chunks, name))
    elif isinstance(backend, ApproxBackend):
        count = _count_approx(backend, chunks)
    else:
        count = backend.count_one("".join(chunks))
    return CountResult(
        count, model, backend.strategy, backend.encoding_name, backend.exact, False,
        backend.typical_error,
    )  # fmt: skip

"""Per-request work limits for compression: a deadline and a cancel signal.

The REST service runs each compression in a worker thread that cannot be killed, so the work
checks its limits itself: `work_limits` sets them for the current thread (a context variable) and
`check_limits`, called once per selection step and per embedded block, raises `WorkLimitExceeded` when the deadline has
passed or the cancel event is set (the server is shutting down). Outside a `work_limits` block
nothing is limited.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["WorkLimitExceeded", "WorkLimits", "check_limits", "work_limits"]


class WorkLimitExceeded(RuntimeError):
    """The work passed its deadline (``reason="deadline"``) or was cancelled (``"cancelled"``)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class WorkLimits:
    """``deadline``: `time.monotonic` value after which work stops; ``cancel``: stop when set."""

    deadline: float | None = None
    cancel: threading.Event | None = None
    seconds: float | None = None  # the budget the deadline came from, for messages


_LIMITS: ContextVar[WorkLimits | None] = ContextVar("polytok_compress_limits", default=None)


@contextmanager
def work_limits(
    seconds: float | None = None, cancel: threading.Event | None = None
) -> Iterator[WorkLimits]:
    """Limit the work done in this block (this thread / task) to ``seconds`` and ``cancel``.

    Args:
        seconds: wall-clock budget from now; ``None`` for no deadline.
        cancel: an event that stops the work when set.
    """
    if seconds is not None and not seconds > 0:
        raise ValueError(f"a work deadline must be > 0 seconds, got {seconds!r}")
    deadline = None if seconds is None else time.monotonic() + seconds
    limits = WorkLimits(deadline, cancel, seconds)
    token = _LIMITS.set(limits)
    try:
        yield limits
    finally:
        _LIMITS.reset(token)


def check_limits() -> None:
    """Raise `WorkLimitExceeded` if the current limits are exhausted (cheap; call often)."""
    limits = _LIMITS.get()
    if limits is None:
        return
    if limits.cancel is not None and limits.cancel.is_set():
        raise WorkLimitExceeded("cancelled", "the server is shutting down; retry the request")
    if limits.deadline is not None and time.monotonic() > limits.deadline:
        raise WorkLimitExceeded(
            "deadline",
            f"compression did not finish within {limits.seconds:g} s; send a shorter context "
            "(or fewer chunks), or raise the server's deadline (--compress-deadline)",
        )

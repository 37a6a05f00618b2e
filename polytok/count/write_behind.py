"""`WriteBehind`: a buffer of cache writes that a background thread stores in batches.

The L2 (SQLite) and L3 (Redis) tiers both keep a count request from paying for its own write:
``put`` buffers the value (readable from the buffer at once) and wakes a daemon thread, which
waits up to ``interval_s`` for more writes (less when ``max_pending`` are waiting) and hands the
batch to the tier's ``store`` function in one call (a transaction, a pipeline). `flush` stores
synchronously; `close` and interpreter exit store what is left. A write stays in the buffer until
it is stored: read the buffer (`get`, `snapshot`) before the store, and a value is never missed.

The thread holds the buffer only through a weak reference, so a tier that is dropped without
``close`` is collected and its thread ends within a second.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections.abc import Callable
from typing import Any


class WriteBehind:
    """Buffered ``key -> value`` writes, stored in batches by a background thread.

    Args:
        store: called with the list of ``(key, value)`` to store (from the writer thread, or
            from `flush`); it handles its own errors.
        interval_s: how long the writer gathers writes after the first one wakes it.
        max_pending: buffered entries that make the writer store at once (None: no limit).
        name: the writer thread's name.
    """

    def __init__(
        self,
        store: Callable[[list[tuple[bytes, Any]]], None],
        interval_s: float,
        max_pending: int | None = None,
        name: str = "polytok-write-behind",
    ) -> None:
        self.store = store
        self.max_pending = max_pending
        self._pending: dict[bytes, Any] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._wake = threading.Event()  # a write is waiting
        self._full = threading.Event()  # max_pending are waiting: store now
        self.closed = False
        ref = weakref.ref(self)
        self._thread = threading.Thread(
            target=_writer, args=(ref, self._wake, self._full, interval_s), daemon=True, name=name
        )
        self._thread.start()
        atexit.register(_flush_at_exit, ref)

    def put(self, key: bytes, value: Any, *, wake: bool = True) -> None:
        """Buffer one write; ``wake=False`` leaves storing it to the caller (an event loop that
        stores batches itself and calls `forget`), though `flush` and `close` still store it."""
        with self._lock:
            self._pending[key] = value
            full = self.max_pending is not None and len(self._pending) >= self.max_pending
        if wake:
            self._wake.set()
        if full:
            self._wake.set()
            self._full.set()

    def get(self, key: bytes) -> Any:
        """The buffered value of ``key``, or None."""
        return self._pending.get(key)

    def snapshot(self) -> dict[bytes, Any]:
        """A copy of the buffered writes."""
        with self._lock:
            return dict(self._pending)

    def flush(self) -> None:
        """Store the buffered writes now.

        They leave the buffer only once stored, so a reader that looks in the buffer first and
        then in the store always finds a value. One flush runs at a time (the writer thread's and
        an explicit one never store the same write twice).
        """
        with self._flushing:
            items = list(self.snapshot().items())
            if not items:
                return
            self.store(items)
            self.forget(items)

    def forget(self, items: list[tuple[bytes, Any]]) -> None:
        """Drop writes that were stored (or given up), unless overwritten meanwhile."""
        with self._lock:
            for key, value in items:
                if self._pending.get(key) == value:
                    del self._pending[key]

    def clear(self) -> None:
        """Drop the buffered writes."""
        with self._lock:
            self._pending.clear()

    def close(self) -> None:
        """Stop the writer thread and store what is left."""
        if self.closed:
            return
        self.closed = True
        self._wake.set()
        self._full.set()
        self._thread.join(timeout=5)
        self.flush()


def _writer(
    ref: weakref.ref, wake: threading.Event, full: threading.Event, interval: float
) -> None:
    """Wait for a write, gather more for ``interval`` s (or until full), store the batch."""
    while True:
        woken = wake.wait(1.0)  # the timeout only notices a buffer that was garbage-collected
        buffer = ref()
        if buffer is None or buffer.closed:
            return
        del buffer
        if not woken:
            continue
        full.wait(interval)
        wake.clear()
        full.clear()
        buffer = ref()
        if buffer is None:
            return
        buffer.flush()
        del buffer


def _flush_at_exit(ref: weakref.ref) -> None:
    buffer = ref()
    if buffer is not None and not buffer.closed:
        buffer.flush()

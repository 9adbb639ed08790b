"""One writer at a time, across processes: an exclusive ``flock`` on a file of the collection.

Every write to a corpus and its index (add, remove, build, sync) holds it; readers never need it
because every write publishes a new generation atomically. The lock is released by the kernel
when the process dies, so a ``kill -9`` never leaves it stuck.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import IndexBusyError

_POLL_S = 0.05


@contextmanager
def writer_lock(path: Path, timeout_s: float, what: str) -> Iterator[None]:
    """Hold the exclusive lock on ``path``, waiting at most ``timeout_s`` for another writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexBusyError(
                        f"another process is changing {what} (waited {timeout_s:.0f} s for it); try again when it is done"
                    ) from None
                time.sleep(_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

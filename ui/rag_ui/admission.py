"""Admission: how many API calls of one kind run at once, how many may wait, and a quick "busy" beyond.

Questions and writes run in thread pools of their own, never in the one FastAPI lends to every
synchronous route. Before this, 45 deletes waiting for a collection's writer lock (held by a long
``rag add``) took every thread of that shared pool, and ``/api/v1/ask`` went from 0.34 s to 41–43 s and
``/health`` to 40 s (issue 23). Now a write waits in its own small pool, and a call that finds its
pool and its queue full is refused at once with 503 and ``Retry-After``, instead of holding a thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class ServerBusyError(Exception):
    """Too many calls of this kind are running or waiting: try again later (HTTP 503)."""

    def __init__(self, kind: str, retry_after_s: int) -> None:
        super().__init__(f"the server is busy with other {kind}; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class Admission:
    """At most ``running`` calls at a time and ``waiting`` more in line; the next is refused at once."""

    def __init__(self, kind: str, running: int, waiting: int, retry_after_s: int) -> None:
        self.kind = kind
        self.retry_after_s = retry_after_s
        self._pool = ThreadPoolExecutor(running, thread_name_prefix=f"rag-{kind}")
        self._slots = threading.BoundedSemaphore(running + waiting)

    async def run(self, function: Callable[[], T]) -> T:
        """``function()`` in this kind's pool; ``ServerBusyError`` when no slot is free."""
        if not self._slots.acquire(blocking=False):
            raise ServerBusyError(self.kind, self.retry_after_s)
        try:
            future: Future[T] = self._pool.submit(function)
        except BaseException:
            self._slots.release()
            raise
        # the slot is freed when the work is done, not when a client that gave up stops waiting for it
        future.add_done_callback(lambda _: self._slots.release())
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

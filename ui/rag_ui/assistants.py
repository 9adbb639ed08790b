"""The collections a server answers from: one ``Assistant`` per collection, opened on first use and
sharing the model (``Assistant.for_collection``).

Opening a collection can mean building its index (minutes, for a large archive that is stale), so
each collection opens under a lock of its own: questions to collections already open never wait for
another one to open. A question to the collection being opened waits a moment, then is refused as
busy (503 with ``Retry-After``): five clients waiting for a build held the server's four question
threads for all of it, and every other collection waited with them (0.26 s alone, 26.2 s; issue 26).
"""

from __future__ import annotations

import threading
from collections import defaultdict

from rag import Assistant, IndexBusyError

OPENING_WAIT_S = 2.0  # long enough for a collection whose index is current to open (0.3 s)


class Assistants:
    def __init__(self, default: Assistant) -> None:
        self.default = default
        self._open: dict[str, Assistant] = {default.collection: default}
        self._opening: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._lock = threading.Lock()  # guards the two dicts, held for microseconds

    def get(self, name: str | None = None, *, create: bool = False) -> Assistant:
        """The named collection's assistant (the default one for ``None``); ``UnknownCollectionError``
        unless it exists or ``create``; ``InvalidCollectionError`` for a name that is no slug."""
        name = name or self.default.collection
        with self._lock:
            if name in self._open:
                return self._open[name]
            opening = self._opening[name]
        # one thread opens it; the others asking for the same collection wait a moment for that one
        if not opening.acquire(timeout=OPENING_WAIT_S):
            raise IndexBusyError(f"the collection {name!r} is being opened (its index may be building); try again shortly")
        try:
            with self._lock:
                if name in self._open:
                    return self._open[name]
            try:
                opened = self.default.for_collection(name, create=create)
            except BaseException:
                with self._lock:  # no lock is kept for a name that did not open (any name a client sends)
                    self._opening.pop(name, None)
                raise
            with self._lock:  # open before its lock goes: a question arriving now finds it, never opens it twice
                self._open[name] = opened
                self._opening.pop(name, None)
            return opened
        finally:
            opening.release()

    def names(self) -> list[str]:
        return self.default.collections()

"""The collections a server answers from: one ``Assistant`` per collection, opened on first use and
sharing the model (``Assistant.for_collection``).

Opening a collection can mean building its index (minutes, for a large archive that is stale), so
each collection opens under a lock of its own: questions to collections already open never wait for
another one to open.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from rag import Assistant


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
        with opening:  # one thread opens it; the others asking for the same collection wait for that one
            with self._lock:
                if name in self._open:
                    return self._open[name]
            try:
                opened = self.default.for_collection(name, create=create)
            finally:
                with self._lock:  # no lock is kept for a name that did not open (any name a client sends)
                    self._opening.pop(name, None)
            with self._lock:
                self._open[name] = opened
            return opened

    def names(self) -> list[str]:
        return self.default.collections()

"""The collections a server answers from: one ``Assistant`` per collection, opened on first use and
sharing the model (``Assistant.for_collection``)."""

from __future__ import annotations

import threading

from rag import Assistant


class Assistants:
    def __init__(self, default: Assistant) -> None:
        self.default = default
        self._open: dict[str, Assistant] = {default.collection: default}
        self._lock = threading.Lock()

    def get(self, name: str | None = None, *, create: bool = False) -> Assistant:
        """The named collection's assistant (the default one for ``None``); ``UnknownCollectionError``
        unless it exists or ``create``; ``InvalidCollectionError`` for a name that is no slug."""
        name = name or self.default.collection
        with self._lock:
            if name not in self._open:
                self._open[name] = self.default.for_collection(name, create=create)
            return self._open[name]

    def names(self) -> list[str]:
        return self.default.collections()

    def drop(self, name: str) -> None:
        assistant = self.get(name)
        assistant.drop()
        with self._lock:
            self._open.pop(name, None)

"""Files a collection skips while it reads its folder (unreadable, of the wrong type, empty, a copy
of another article): each is logged as a warning and handed to the caller whose work skipped it.

Reading the folder can start deep inside any call (the first question to a collection builds its
index; an upload first takes in the files dropped into the folder by hand), so the skipped files do
not come back through return values: a caller collects those of the calls it makes inside
``with skipped_files() as skipped:``. The collector is a context variable, so each thread (each
API request) collects only what its own calls skipped.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Skipped:
    file: str  # its name in the collection's folder
    reason: str


_collected: ContextVar[list[Skipped] | None] = ContextVar("rag_skipped", default=None)


@contextlib.contextmanager
def skipped_files() -> Iterator[list[Skipped]]:
    """The files skipped by the calls made in the block, in this thread, in the order they were read."""
    collected: list[Skipped] = []
    token = _collected.set(collected)
    try:
        yield collected
    finally:
        _collected.reset(token)


def skip(file: str, reason: str) -> None:
    """Log a skipped file and hand it to the caller collecting them, if any."""
    log.warning("%s skipped: %s", file, reason)
    collected = _collected.get()
    if collected is not None:
        collected.append(Skipped(file, reason))

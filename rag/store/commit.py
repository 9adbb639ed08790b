"""What every store's commit does the same way, whatever it writes: start from the latest commit
(or, for a rebuild, from nothing when that commit cannot be read), refuse to remove documents the
index does not hold, and give the added documents' pieces ids that were never used."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from rag.errors import IndexCorruptError, UnknownDocumentError
from rag.store.base import Change, IndexedDocument

T = TypeVar("T")


def read_base(refresh: Callable[[], object], change: Change) -> bool:
    """Adopt the latest commit before changing it (``refresh``); False when it is unreadable and
    ``change`` is a rebuild, which replaces it without reading it."""
    try:
        refresh()
    except IndexCorruptError:
        if not change.rebuild:
            raise
        return False
    return True


def removals(located: Mapping[str, T], change: Change) -> list[T]:
    """Where the documents ``change`` removes are, in id order; an id the index does not hold is
    refused before anything is written. A rebuild keeps nothing, so it removes nothing."""
    if change.rebuild:
        return []
    for doc_id in sorted(change.remove):
        if doc_id not in located:
            raise UnknownDocumentError(f"no document {doc_id!r} in the index")
    return [located[doc_id] for doc_id in sorted(change.remove)]


@dataclass
class Ids:
    """The next unused chunk and sentence ids: ids are given once and never reused, so a record
    cached anywhere stays true."""

    chunk: int = 0
    sentence: int = 0

    def take(self, indexed: IndexedDocument) -> tuple[int, int]:
        """The first chunk and sentence ids of ``indexed``, whose pieces get consecutive ids."""
        first = (self.chunk, self.sentence)
        self.chunk += len(indexed.chunks)
        self.sentence += len(indexed.sentences)
        return first

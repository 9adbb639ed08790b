"""A collection whose documents are given when it opens: the evaluation's copies of the news with
other chunk sizes, public benchmarks (``Assistant.over``). Indexed like any collection, in
``settings.collection``; nothing is written to a corpus folder, and nothing can be added or removed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from rag.collection import AddResult, Collection
from rag.config import Settings
from rag.document import Document
from rag.encoder import Encoder
from rag.errors import DocumentError
from rag.files import sha256_bytes
from rag.fingerprint import Fingerprint
from rag.ingest import index_documents
from rag.store.base import Change, Store


class FixedCollection(Collection):
    """Documents given when it opens (see the module's docstring)."""

    def __init__(self, settings: Settings, store: Store, encoder: Encoder, documents: Sequence[Document]) -> None:
        super().__init__(settings, store, encoder)
        self.documents = list(documents)

    @property
    def _source(self) -> str:
        return f"the evaluation set ({len(self.documents)} documents)"

    def _source_state(self) -> str:
        return sha256_bytes("\n".join(sorted(f"{doc.id} {doc.checksum}" for doc in self.documents)).encode())

    def _leftovers(self) -> bool:
        return self.store.has_leftovers()

    def _clean_up(self) -> None:
        self.store.remove_leftovers()

    def _build(self, progress: bool) -> None:
        self.store.commit(Change(index_documents(self.documents, self.encoder, self.settings, progress, len(self.documents)),
                                 frozenset(), self.fingerprint, self._source_state(), rebuild=True))  # fmt: skip

    def _sync(self, progress: bool, reread: frozenset[str] = frozenset(), fingerprint: Fingerprint | None = None) -> None:
        """The documents are given already read: ``reread`` asks nothing more of them (a changed
        extraction shows as a changed checksum); those whose checksum changed are indexed again, from
        their stored pieces when only their description changed (the distractor index's documents got
        dates: re-embedding its 7,090 passages took 25 minutes)."""
        stored = {doc.id: doc.checksum for doc in self.store.view().stored_documents()}
        changed = [doc for doc in self.documents if stored.get(doc.id) != doc.checksum]
        described = [doc for doc in changed if doc.id in stored]
        remove = (set(stored) - {doc.id for doc in self.documents}) | {doc.id for doc in described}
        added = self._reindexed(described, [doc for doc in changed if doc.id not in stored], progress)
        self.store.commit(Change(added, frozenset(remove), fingerprint or self.fingerprint, self._source_state()))

    def add(self, paths: Sequence[Path], progress: bool = False, cancel: threading.Event | None = None,
            names: Sequence[str] | None = None, date: str | None = None) -> list[AddResult]:  # fmt: skip
        raise self._read_only()

    def remove(self, doc_ids: Sequence[str], progress: bool = False) -> list[Document]:
        raise self._read_only()

    def drop(self) -> None:
        raise self._read_only()

    def exists(self) -> bool:
        return self.store.exists()

    def _read_only(self) -> DocumentError:
        return DocumentError(f"the collection {self.settings.collection!r} is a fixed evaluation set; it takes no changes")

"""A collection's lifecycle: a source of documents and its index kept in agreement.

Two kinds, one class each: ``rag.folder_collection.FolderCollection``, whose documents are the files
of a corpus folder (every collection of the product), and ``rag.fixed_collection.FixedCollection``,
whose documents are given when it opens (the evaluation's re-chunked copies of the news, public
benchmarks), read-only. ``Collection``, their base, here, holds what they share: opening, repairing,
upgrading and verifying an index, and what it finds (``Needs``, ``Verification``, ``AddResult``).

- **Open**: the index is built when missing, repaired when it is damaged, brought up to date with
  the least work when it was made with another model, other settings or other versions of the
  indexing steps (``rag.fingerprint``), and synchronised when the corpus folder changed by hand (a
  file dropped in, edited, or its manifest edited). Each of these is a write.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Literal

from rag.config import Settings
from rag.document import Document, text_fingerprint
from rag.encoder import Encoder
from rag.errors import IndexCorruptError
from rag.fingerprint import Fingerprint, Work, settled, work
from rag.ingest import derive_terms, fingerprint, index_documents
from rag.store.base import Damage, IndexedDocument, Store, StoreInfo

log = logging.getLogger(__name__)  # what happens to the collection: the CLI prints it, a server logs it
ENCODE_PIECES_PER_S = 55  # the real model on 2 CPU cores (eval/reports/bench.md: 54.8 pieces/s while building)
Status = Literal["added", "updated", "unchanged"]


@dataclass(frozen=True)
class AddResult:
    status: Status
    document: Document


@dataclass(frozen=True)
class Verification:
    """What ``Assistant.verify`` found: damage, and what ``rag build`` will redo (nothing: current)."""

    collection: str
    store: str
    location: str
    checked: str  # what was read
    damage: tuple[Damage, ...]
    redo: tuple[str, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        """Nothing is damaged (the index may still be out of date: ``redo``)."""
        return not self.damage


class Needs(Enum):
    """What an index needs before it can answer (nothing: ``Collection._problem`` is None)."""

    SYNC = "sync"  # only the source changed: index the difference
    UPGRADE = "upgrade"  # made with another model, other settings or other versions: the least work (rag.fingerprint)
    REPAIR = "repair"  # it cannot be opened: the damaged parts are repaired, or everything indexed again
    BUILD = "build"  # missing: index everything


@dataclass(frozen=True)
class _Problem:
    needs: Needs
    message: str  # in words for the user ("" for SYNC)
    work: Work = Work(embed=True)  # what makes it current: for UPGRADE, the fingerprint's difference


def _encoding_time(info: StoreInfo) -> str:
    """How long embedding an index's pieces again takes at ``ENCODE_PIECES_PER_S`` ("" unknown)."""
    if not info.chunks:
        return ""
    minutes = (info.chunks + info.sentences) / ENCODE_PIECES_PER_S / 60
    return f" (about {minutes / 60:,.1f} hours)" if minutes >= 90 else f" (about {max(1, round(minutes))} min)"


class Collection(ABC):
    """A store kept in agreement with a source of documents (see the module's docstring)."""

    def __init__(self, settings: Settings, store: Store, encoder: Encoder) -> None:
        self.settings, self.store, self.encoder = settings, store, encoder
        self.fingerprint = fingerprint(settings, encoder)

    # ---- opening

    def open(self, rebuild: bool = False, progress: bool = False, rescan: bool = False) -> None:
        """Make the index current, writing only when something is missing, stale or damaged, and
        doing the least that makes it current (``rag.fingerprint``). ``rebuild``: index everything
        again. ``rescan``: read every document of the source (an article edited in place keeps the
        folder's state; ``rag build`` finds it) and every byte of the index against its checksums."""
        problem = self._problem()
        if problem is None and not rebuild and not rescan and not self._leftovers():
            return
        with self.store.writer():
            self._clean_up()
            self._make_current(progress, rebuild, rescan)

    def _make_current(self, progress: bool, rebuild: bool = False, rescan: bool = False) -> None:
        """What ``open`` does once it holds the lock (and every write before its change: another
        process may have left the index stale or damaged meanwhile). ``rescan`` (``rag build``)
        also reads every byte of the index against its checksums."""
        problem = self._problem()
        if not rebuild and (rescan or (problem is not None and problem.needs is Needs.REPAIR)):
            if self._repair(progress, checksums=rescan):
                return
            problem = self._problem()
        if rebuild or (problem is not None and problem.needs is not Needs.SYNC and problem.work.embed):
            if problem is not None:
                log.log(logging.INFO if problem.needs is Needs.BUILD else logging.WARNING, problem.message)
            self._build(progress)
            return
        if problem is not None and problem.needs is Needs.UPGRADE:
            log.warning(problem.message)
            self._upgrade(problem.work, progress)
        if rescan or self._problem() is not None:
            self._sync(progress)

    def _repair(self, progress: bool, checksums: bool) -> bool:
        """Repair what the store finds damaged with the least work: a damaged part's documents are
        indexed again from the source (or the vector index rebuilt from the stored vectors); the
        whole index only when its manifest is lost. True when everything was rebuilt."""
        found = self.store.check(checksums)
        if not found.damage:
            return False
        problems = "; ".join(f"{item.part}: {item.problem}" for item in found.damage)
        log.warning("the index is damaged (%s): %s …", problems, "; ".join(self._redo(item) for item in found.damage))
        if any(item.redo == "everything" for item in found.damage):
            self._build(progress)
            return True
        self.store.repair(found.damage)  # records no source state: the sync that follows re-reads what went missing
        return False

    def _redo(self, damage: Damage) -> str:
        if damage.redo == "vector index":
            return f"rebuild the vector index of {damage.part} from its stored vectors (no embedding)"
        if damage.redo == "documents":
            held = "the documents" if damage.documents is None else f"the {damage.documents:,} documents"
            return f"embed again {held} of {damage.part} (read from {self._source})"
        return f"re-embed every document{_encoding_time(self.store.info())}"

    def verify(self) -> Verification:
        """Read the whole index against its checksums and compare it with the settings, the code and
        the source, changing nothing: what is damaged and what ``rag build`` will redo."""
        started = time.perf_counter()
        found = self.store.check(checksums=True)
        redo = [self._redo(item) for item in found.damage]
        if not any(item.redo == "everything" for item in found.damage):  # a rebuild replaces all the rest
            problem = None if found.damage else self._problem()  # damaged parts hide the rest until repaired
            if problem is not None:
                redo.append({Needs.BUILD: f"build the index of {self._source}", Needs.REPAIR: f"build the index again ({problem.message})",
                             Needs.UPGRADE: f"{problem.work.describe()} ({'; '.join(problem.work.reasons)})",
                             Needs.SYNC: f"index what changed in {self._source}"}[problem.needs])  # fmt: skip
            if self._leftovers():
                redo.append("finish or undo a change that was interrupted")
        info = self.store.info()
        return Verification(self.settings.collection, info.backend, info.location, found.checked, found.damage, tuple(redo),
                            round(time.perf_counter() - started, 2))  # fmt: skip

    def _problem(self) -> _Problem | None:
        """Why the index cannot be used as it is, and what makes it current (None: nothing)."""
        try:
            self.store.refresh()
            view = self.store.view()
        except IndexCorruptError as error:
            return _Problem(Needs.REPAIR, f"The index cannot be used, it is damaged or outdated ({error}); rebuilding it from {self._source} …")
        if view.fingerprint is None:
            return _Problem(Needs.BUILD, f"Building the index of {self._source} in {self.settings.index_dir} …")
        needed = work(view.fingerprint, self.fingerprint)
        if not needed.nothing:
            cost = _encoding_time(self.store.info()) if needed.embed else ""
            return _Problem(Needs.UPGRADE, f"The index of {self.settings.collection} was made differently ({'; '.join(needed.reasons)}): "
                                           f"{needed.describe()}{cost} …", needed)  # fmt: skip
        return _Problem(Needs.SYNC, "") if view.corpus_state != self._source_state() else None

    def _upgrade(self, needed: Work, progress: bool) -> None:
        """The work of a changed fingerprint short of embedding everything: documents read again
        first (recorded with the old tokens and vector-index parts, so a crash before the rest leaves
        the rest to do), then what the store derives without the encoder."""
        old = self.store.view().fingerprint
        assert old is not None
        if needed.reread:
            self._sync(progress, reread=needed.reread, fingerprint=settled(old, self.fingerprint, {"reread"}))
        if needed.tokens or needed.ann:
            self.store.rework(self.fingerprint, derive_terms if needed.tokens else None)

    # ---- what each kind of source does

    def _reindexed(self, redescribe: Sequence[Document], embed: Sequence[Document], progress: bool,
                   cancel: threading.Event | None = None) -> Iterator[IndexedDocument]:  # fmt: skip
        """Documents ready for the store: those of ``redescribe`` whose text the store holds whole are
        described anew from their stored pieces (no encoder: a new date or title re-embeds nothing),
        the others and ``embed`` embedded."""
        view = self.store.view()
        again = []
        for document in redescribe:
            found = view.pieces([document.id]).get(document.id)
            if found is None or text_fingerprint(found.document.text) != text_fingerprint(document.text):
                again.append(document)  # not whole in the store: embedded again
                continue
            yield replace(found, document=document)
        documents = [*embed, *again]
        yield from index_documents(documents, self.encoder, self.settings, progress, len(documents), cancel)

    @property
    @abstractmethod
    def _source(self) -> str:
        """The source in words, for messages."""

    @abstractmethod
    def _source_state(self) -> str:
        """What the index records of its source: equal states mean nothing needs reading."""

    @abstractmethod
    def _leftovers(self) -> bool:
        """Whether a write that died left something behind: the next open cleans it up."""

    @abstractmethod
    def _clean_up(self) -> None:
        """Finish or undo what dead writes left behind (the caller holds the writer lock)."""

    @abstractmethod
    def _build(self, progress: bool) -> None:
        """Index every document of the source anew."""

    @abstractmethod
    def _sync(self, progress: bool, reread: frozenset[str] = frozenset(), fingerprint: Fingerprint | None = None) -> None:
        """Index what changed in the source. ``reread``: formats whose files are read again even when
        unchanged (their extraction or cleaning changed): only documents whose text changed are
        embedded. ``fingerprint``: what the index is made with afterwards, when not all of
        ``self.fingerprint`` (``_upgrade``)."""

    # ---- changing

    @abstractmethod
    def add(self, paths: Sequence[Path], progress: bool = False, cancel: threading.Event | None = None,
            names: Sequence[str] | None = None, date: str | None = None) -> list[AddResult]: ...  # fmt: skip

    @abstractmethod
    def remove(self, doc_ids: Sequence[str], progress: bool = False) -> list[Document]: ...

    @abstractmethod
    def exists(self) -> bool: ...

    @abstractmethod
    def drop(self) -> None: ...

"""A collection whose documents are the files of a corpus folder (every collection of the product):
``FolderCollection``, built on ``rag.collection.Collection`` (opening, repairing, upgrading,
verifying): it scans the folder against its index, adds and removes files, and keeps the folder and
the index in step through a journal.

- **Writes** (build, sync, add, remove) hold the store's writer lock, re-read the folder after
  taking it, and go through a journal (``PENDING.json`` in the index folder): new files are staged
  in ``corpus/.staging``, the index commits, then the files are published and the manifest
  written. A crash before the commit leaves the old state (the staging is discarded), a crash
  after it is completed by the next writer; either way the folder and the index agree.
- A file in the folder that cannot be read is skipped with a warning naming it (``rag.skipped``: the caller
  whose call read the folder gets them too); the rest works.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

from rag.collection import AddResult, Collection
from rag.config import DEFAULT_COLLECTION, Settings
from rag.corpus import USER_BASIS, STAGED_MANIFEST, CorpusFolder, checked_date, document_from_bytes, document_name, new_document_id, read_bytes
from rag.document import Document, from_entry, text_fingerprint
from rag.encoder import Encoder
from rag.errors import DocumentError, IndexCorruptError, StorageError, UnknownDocumentError
from rag.files import sha256_bytes, write_atomic
from rag.fingerprint import Fingerprint
from rag.formats import extraction_kind
from rag.skipped import skip
from rag.store.base import Change, IndexedDocument, Store, StoredDocument

JOURNAL = "PENDING.json"
log = logging.getLogger(__name__)  # what happens to the collection: the CLI prints it, a server logs it


class _Upload(NamedTuple):
    """A file to add, read and checked before the collection is locked."""

    name: str
    suffix: str
    data: bytes
    document: Document  # without its id and file, which are given under the lock


@dataclass
class _Plan:
    """What a write changes: documents to (re-)index, ids to drop, files to publish or delete."""

    index: list[Document] = field(default_factory=list)
    remove: set[str] = field(default_factory=set)
    publish: dict[str, bytes] = field(default_factory=dict)  # staged file name → content
    delete: set[str] = field(default_factory=set)  # files of replaced or removed documents
    keep: dict[str, Document | StoredDocument] = field(default_factory=dict)  # id → the manifest's document
    # documents whose description changed but not their text: written again from their stored pieces,
    # never embedded (``StoreView.pieces``); their old versions are in ``remove``
    redescribe: list[Document] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.index or self.remove or self.publish or self.delete or self.redescribe)


class FolderCollection(Collection):
    """A corpus folder and its index: the files are the documents (see the module's docstring)."""

    def __init__(self, settings: Settings, store: Store, encoder: Encoder) -> None:
        super().__init__(settings, store, encoder)
        self.corpus = CorpusFolder(settings.corpus_dir)
        self.journal = settings.index_dir / JOURNAL

    def open(self, rebuild: bool = False, progress: bool = False, rescan: bool = False) -> None:
        if self.settings.collection != DEFAULT_COLLECTION and not self.exists():
            return  # a new collection: nothing is written until its first add succeeds
        super().open(rebuild, progress, rescan)

    @property
    def _source(self) -> str:
        return str(self.corpus.directory)

    def _source_state(self) -> str:
        return self.corpus.state()

    def _leftovers(self) -> bool:
        """A journal or files of an interrupted write: the next open cleans them up."""
        return self.journal.exists() or self.corpus.has_leftovers() or self.store.has_leftovers()

    def _clean_up(self) -> None:
        """After a crash, or for ``rag build``: finish or undo the interrupted write, and remove the
        temporary files of writes of any version (a scan of the folder: not done on every write)."""
        self._recover()
        self.corpus.remove_temporary_files()
        self.store.remove_leftovers()

    # ---- the journal

    def _recover(self) -> None:
        """Finish or undo a write that a crash interrupted (the caller holds the lock)."""
        if self._finish_journal():
            log.info("Completed an interrupted change of %s.", self.corpus.directory)

    def _finish_journal(self) -> bool:
        """Publish the journal's files if the index committed its change, else discard them.
        True when a committed change was completed."""
        if not self.journal.exists():
            self.corpus.discard_staging()
            return False
        try:
            pending = json.loads(self.journal.read_text(encoding="utf-8"))
            generation, publish, delete = int(pending["generation"]), list(pending["publish"]), list(pending["delete"])
            stamp = int(pending["stamp_ns"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            return self._repair_journal(error)
        committed = self._generation() >= generation
        if committed:
            self.corpus.publish(publish, delete, stamp)  # the staging goes with it
        else:
            self.corpus.discard_staging()
        self.journal.unlink(missing_ok=True)
        return committed

    def _repair_journal(self, error: Exception) -> bool:
        """A journal that cannot be read (a damaged disk, a hand edit): whether its change committed
        is read from the index, which holds exactly the staged manifest's documents (each id with
        its file and checksum) when it did. Then the staged files are published and the replaced
        ones deleted, or the staging is discarded; the folder's state is new, so the next open
        compares it with the index."""
        try:
            staged = json.loads((self.corpus.staging / STAGED_MANIFEST).read_text(encoding="utf-8"))["documents"]
            intended = {str(e["id"]): (e["file"], e["sha256"]) for e in staged}
        except (OSError, ValueError, KeyError, TypeError):
            intended = None
        stored = {doc.id: (doc.entry.get("file"), doc.entry.get("sha256")) for doc in self._stored_or_empty().values()}
        committed = intended is not None and intended == stored
        if committed:
            kept = {file for file, _ in intended.values()}  # type: ignore[union-attr]
            listed = {str(entry["file"]) for entry in self.corpus.read_manifest().entries}
            staged_files = [path.name for path in self.corpus.staging.iterdir() if path.name != STAGED_MANIFEST]
            self.corpus.publish([f for f in staged_files if f in kept], listed - kept, time.time_ns())
        self.corpus.discard_staging()
        self.journal.unlink(missing_ok=True)
        outcome = "the index holds its change: completed it" if committed else "the index does not hold its change: undid it"
        log.warning("%s is damaged (%s); %s", self.journal, error, outcome)
        return committed

    def _generation(self) -> int:
        try:
            self.store.refresh()
            return self.store.view().generation
        except IndexCorruptError:
            return -1

    def _commit(self, plan: _Plan, rebuild: bool, progress: bool, cancel: threading.Event | None = None,
                fingerprint: Fingerprint | None = None) -> None:  # fmt: skip
        """Stage, journal, commit, publish: the folder and the index change together. ``fingerprint``:
        what the index is made with afterwards, when not all of ``self.fingerprint`` (``_upgrade``)."""
        view = self.store.view()
        manifest = self.corpus.manifest_bytes(doc.manifest_line() if isinstance(doc, Document) else doc.manifest_line
                                              for doc in plan.keep.values())  # fmt: skip
        stamp = time.time_ns()  # the folder's and the manifest's time once published: the state recorded
        try:
            for file, data in plan.publish.items():
                self.corpus.stage(file, data)
            self.corpus.stage(STAGED_MANIFEST, manifest)
            state = self.corpus.state_after(manifest, stamp)
            write_atomic(self.journal, json.dumps({
                "generation": view.generation + 1, "publish": sorted(plan.publish), "delete": sorted(plan.delete), "stamp_ns": stamp,
            }).encode())  # fmt: skip
        except OSError as error:
            self.corpus.discard_staging()
            self.journal.unlink(missing_ok=True)
            raise StorageError(f"could not stage the change in {self.corpus.directory} ({error.strerror or error}); "
                               "free disk space or fix the folder's permissions: nothing was changed") from None  # fmt: skip
        try:
            added = self._indexed(plan, progress, cancel)
            self.store.commit(Change(added, frozenset(plan.remove), fingerprint or self.fingerprint, state, rebuild=rebuild))
        except BaseException:
            if self._generation() <= view.generation:  # not committed: undo the staging
                self.corpus.discard_staging()
                self.journal.unlink(missing_ok=True)
            raise
        self._finish_journal()  # publishes the staged files and writes the manifest

    def _indexed(self, plan: _Plan, progress: bool, cancel: threading.Event | None) -> Iterator[IndexedDocument]:
        return self._reindexed(plan.redescribe, plan.index, progress, cancel)

    # ---- building and synchronising with the folder

    def _build(self, progress: bool) -> None:
        plan = self._scan(self._stored_or_empty(), full=True)
        self._commit(plan, rebuild=True, progress=progress)
        info = self.store.info()
        log.info("Indexed %d documents: %d chunks and %d sentences.", info.documents, info.chunks, info.sentences)

    def _sync(self, progress: bool, reread: frozenset[str] = frozenset(), fingerprint: Fingerprint | None = None) -> None:
        """Index what changed in the folder. ``reread``: formats whose files are read again even when
        unchanged (their extraction or cleaning changed): only documents whose text changed are embedded."""
        plan = self._scan(self._stored_or_empty(), full=False, reread=reread)
        if plan.empty and self._problem() is None:
            return  # a rescan that found nothing to change
        if not plan.empty:
            log.info("The corpus folder %s changed: indexing %d document(s), removing %d …", self.corpus.directory, len(plan.index),
                     len(plan.remove - {d.id for d in plan.index}))  # fmt: skip
        self._commit(plan, rebuild=False, progress=progress, fingerprint=fingerprint)

    def _stored_or_empty(self) -> dict[str, StoredDocument]:
        try:
            return {stored.id: stored for stored in self.store.view().stored_documents()}
        except IndexCorruptError:
            return {}

    def _scan(self, stored: dict[str, StoredDocument], full: bool, reread: frozenset[str] = frozenset()) -> _Plan:
        """Compare the folder with the index. ``full``: re-read every document (a rebuild);
        ``reread``: formats whose files are read again, indexed again when their document changed."""
        plan = _Plan()
        read = self.corpus.read_manifest()
        entries = read.entries
        problem = read.problem or (f"{self.corpus.manifest_path} is missing" if stored and not self.corpus.manifest_path.exists() else None)
        if problem:
            log.warning("%s; rewriting it from the index", problem)
            entries = [dict(document.entry) for document in stored.values()]
        files = self.corpus.files()
        texts = {}
        for entry in entries:
            doc_id, file = str(entry["id"]), str(entry["file"])
            old = stored.get(doc_id)
            if file not in files:
                if old is not None:
                    log.warning("%s of %s is missing from %s; the indexed text is kept (`rag remove %s` removes it)",
                                file, doc_id, self.corpus.directory, doc_id)  # fmt: skip
                    plan.keep[doc_id] = old
                    if full:
                        plan.index.append(self._indexed_document(old))
                else:
                    skip(file, "listed in the manifest but missing")
                continue
            document = self._read(self.corpus.directory / file, doc_id, entry, old, full or extraction_kind(Path(file).suffix) in reread)
            if document is None:
                if old is not None:
                    plan.keep[doc_id] = old
                continue
            plan.keep[doc_id] = document if isinstance(document, Document) else old  # type: ignore[assignment]
            if isinstance(document, Document):
                texts[text_fingerprint(document.text)] = doc_id
                if not full and old is not None and document.checksum != old.checksum and old.text_sha256 == text_fingerprint(document.text):
                    plan.redescribe.append(document)  # the same text: its pieces are kept
                    plan.remove.add(doc_id)
                elif full or old is None or document.checksum != old.checksum:
                    plan.index.append(document)
                    if old is not None:
                        plan.remove.add(doc_id)
        listed = {str(entry["file"]) for entry in entries}
        for file in sorted(set(files) - listed):
            doc_id = Path(file).stem if Path(file).stem not in plan.keep else new_document_id(plan.keep, file.encode())
            document = self._read(self.corpus.directory / file, doc_id, {}, None, True)
            if not isinstance(document, Document):
                continue
            twin = texts.get(text_fingerprint(document.text)) or next(
                (d for d, s in plan.keep.items() if not isinstance(s, Document) and s.text_sha256 == text_fingerprint(document.text)), None)
            if twin is not None:
                skip(file, f"the same article as {twin} (delete it, or `rag remove {twin}` first)")
                continue
            texts[text_fingerprint(document.text)] = doc_id
            plan.keep[doc_id] = document
            plan.index.append(document)
            if doc_id in stored:
                plan.remove.add(doc_id)
        for doc_id in set(stored) - set(plan.keep):
            plan.remove.add(doc_id)  # its entry and its file are gone: removed by hand
        if full:
            plan.remove = set()  # a rebuild starts from nothing
        return plan

    def _read(self, path: Path, doc_id: str, entry: dict[str, object], old: StoredDocument | None,
              again: bool) -> Document | StoredDocument | None:  # fmt: skip
        """The document of a file; the stored one when the file is unchanged (unless read ``again``);
        None (with a warning) when the file cannot be used."""
        try:
            data = read_bytes(path, self.settings.max_document_bytes, path.name)
            if not again and old is not None and old.entry.get("sha256") == sha256_bytes(data) and _same_fields(entry, old):
                return old
            return document_from_bytes(data, path.suffix.lower(), doc_id, label=path.name, file=path.name,
                                       name=str(entry.get("name") or ""), overrides=entry)  # fmt: skip
        except DocumentError as error:
            reason = str(error).removeprefix(f"{path.name}: ")  # the file is named apart
            skip(path.name, f"{reason}; the indexed version is kept" if old is not None else reason)
            return None

    def _indexed_document(self, stored: StoredDocument) -> Document:
        return self.store.view().documents([stored.id])[stored.id]

    # ---- adding and removing

    def add(self, paths: Sequence[Path], progress: bool = False, cancel: threading.Event | None = None,
            names: Sequence[str] | None = None, date: str | None = None) -> list[AddResult]:  # fmt: skip
        """Add article files: validated, copied into the corpus, embedded, saved; all or nothing. A
        file named like a document added before replaces it when its text changed. ``names``: the
        names the files were given (an upload's), instead of the paths' own. ``date``: their
        publication date (``YYYY-MM-DD``), instead of the one detected; given again for an unchanged
        file, it replaces the date alone (nothing is embedded)."""
        if date is not None:
            date = checked_date(date, "the date")  # before anything is read or written
        if not paths:
            raise DocumentError("no files given")
        if names is not None and len(names) != len(paths):
            raise DocumentError(f"{len(paths)} files but {len(names)} names")
        # every file is read and checked before anything is locked or written: a refused upload leaves
        # no trace, not even the folders of a collection it would have created
        uploads = [self._upload(Path(path), document_name(name), date)
                   for path, name in zip(paths, names or [Path(p).name for p in paths], strict=True)]  # fmt: skip
        first = {}
        for upload in uploads:
            twin = first.setdefault(text_fingerprint(upload.document.text), upload.name)
            if twin != upload.name:
                raise DocumentError(f"{upload.name}: the same article as {twin} in this upload; add one of them")
        with self.store.writer():
            self._recover()
            if self.exists():  # a new collection's first commit is this add's
                self._make_current(progress)
            stored = {doc.id: doc for doc in self.store.view().stored_documents()}
            plan, results = self._plan_additions(uploads, stored)
            if not plan.empty:
                self._commit(plan, rebuild=False, progress=progress, cancel=cancel)
            return results

    def _upload(self, path: Path, name: str, date: str | None) -> _Upload:
        suffix = Path(name).suffix.lower()
        data = read_bytes(path, self.settings.max_document_bytes, name, suffix)
        given = {"published": date, "date_basis": USER_BASIS} if date else None
        return _Upload(name, suffix, data, document_from_bytes(data, suffix, "", label=name, file="", name=name, overrides=given))

    def _plan_additions(self, uploads: Sequence[_Upload], stored: dict[str, StoredDocument]) -> tuple[_Plan, list[AddResult]]:
        plan = _Plan(keep=dict(stored))
        by_name = {str(doc.entry.get("name") or doc.entry["file"]): doc for doc in stored.values()}
        texts = {doc.text_sha256: doc.id for doc in stored.values()}
        taken: set[str] = set()  # names this plan gives; free_file_name looks at the folder for the others
        results = []
        for name, suffix, data, read in uploads:
            previous = by_name.get(name)
            doc_id = previous.id if previous else new_document_id(plan.keep, data)
            file = self.corpus.free_file_name(doc_id, suffix, data, taken)
            document = replace(read, id=doc_id, file=file)
            if previous is not None and previous.text_sha256 == text_fingerprint(document.text):
                if read.date_basis != USER_BASIS or previous.entry.get("published") == read.published:
                    results.append(AddResult("unchanged", self._indexed_document(previous)))
                    continue
                # the same article with another date: described anew, its file and pieces kept
                document = replace(from_entry(previous.entry, document.text), published=read.published, date_basis=USER_BASIS)
                plan.redescribe.append(document)
                plan.keep[doc_id] = document
                plan.remove.add(doc_id)
                results.append(AddResult("updated", document))
                continue
            twin = texts.get(text_fingerprint(document.text))
            if twin is not None and twin != doc_id:
                raise DocumentError(f"{name}: this article is already in the collection as {twin}")
            texts[text_fingerprint(document.text)] = doc_id
            taken.add(file)
            plan.publish[file] = data
            plan.index.append(document)
            plan.keep[doc_id] = document
            if previous is not None:
                plan.remove.add(doc_id)
                plan.delete.add(str(previous.entry["file"]))
            results.append(AddResult("updated" if previous else "added", document))
        return plan, results

    def remove(self, doc_ids: Sequence[str], progress: bool = False) -> list[Document]:
        """Remove documents from the index and the corpus folder; all or nothing."""
        with self.store.writer():
            self._recover()
            self._make_current(progress)
            view = self.store.view()
            documents = view.documents(doc_ids)
            unknown = [doc_id for doc_id in doc_ids if doc_id not in documents]
            if unknown:
                raise UnknownDocumentError(f"no document {', '.join(map(repr, unknown))} in the collection")
            plan = _Plan(keep={doc.id: doc for doc in view.stored_documents() if doc.id not in documents})
            plan.remove = set(documents)
            plan.delete = {document.file for document in documents.values()}
            self._commit(plan, rebuild=False, progress=progress)
            return list(documents.values())

    def exists(self) -> bool:
        return self.corpus.directory.is_dir() or self.store.exists()

    def drop(self) -> None:
        """Delete the collection: its index and its corpus folder."""
        with self.store.writer():
            self.store.drop()
            shutil.rmtree(self.corpus.directory, ignore_errors=True)


def _same_fields(entry: dict[str, object], stored: StoredDocument) -> bool:
    """The manifest entry says nothing the index does not already hold (hand edits re-read the file)."""
    return all(stored.entry.get(key) == value for key, value in entry.items())

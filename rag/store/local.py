"""The local store: an index folder of immutable segments and a manifest naming the live ones.

Layout of ``index/<collection>/``::

    CURRENT                    name of the live manifest (replaced atomically: the commit point)
    manifest-<generation>.json the live segments, the documents removed from them, the next ids,
                               the fingerprint (model, chunking, code …) and the corpus folder's state
    segments/<name>/           one folder per segment (``rag.store.segment``), never modified
    LOCK                       the writer lock

A change writes at most one new segment (the added documents) and a new manifest: adding or removing
an article costs about its own size, whatever the size of the index. Removed documents stay in their
segment, masked, until merging rewrites it: when there are more than ``max_segments`` segments, the
two neighbours with the fewest pieces between them are merged (ids kept), so the work of merging
stays proportional to the small segments. A crash at any point leaves ``CURRENT`` naming a complete
manifest; leftovers are removed by the next writer. This module writes, refreshes and checks the
folder; reading a generation (its manifest, its segments as a snapshot) is ``rag.store.local_view``'s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.errors import IndexCorruptError, StorageError
from rag.files import fsync_dir, write_atomic
from rag.locking import writer_lock
from rag.store.base import REBUILD_HINT, Change, Check, Damage, Fingerprint, StoreInfo, TermsOf
from rag.store.checks import examine
from rag.store.commit import Ids, read_base, removals
from rag.store.local_view import LocalManifest, LocalView, Part
from rag.store.segment import Segment, SegmentWriter, has_current_indexes, has_lookups, link_with_lookups, link_with_new_indexes

CURRENT = "CURRENT"
log = logging.getLogger(__name__)
_LOAD_ATTEMPTS = 5  # a writer may replace the generation while we read it: read the new one


class LocalStore:
    """Index files in ``index/<collection>/`` (see the module's docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.directory = settings.index_dir
        self.settings = settings
        # Threads share these; ``_lock`` guards them, and a view is adopted only if no newer one
        # was meanwhile (``_adopt``): a slow refresh never puts back a generation older than a commit
        self._lock = threading.Lock()
        # open segments, reused by the next views; by instance too: an index created again after a
        # drop names its segments as the dropped one did
        self._segments: dict[tuple[str, str], Segment] = {}
        self._current: tuple[int, int] | None = None  # CURRENT's (inode, mtime) when the view was read
        self._view = LocalView(None, [], settings.vectors)

    @property
    def segments_dir(self) -> Path:
        return self.directory / "segments"

    def exists(self) -> bool:
        return (self.directory / CURRENT).exists()

    def view(self) -> LocalView:
        return self._view

    def writer(self) -> Any:
        return writer_lock(self.directory / "LOCK", self.settings.lock_timeout_s, f"the index in {self.directory}")

    def refresh(self) -> bool:
        """Re-read ``CURRENT`` when it changed, or a segment whose mapped files changed since they were
        opened; segments already open are reused, not re-read."""
        pointer = self.directory / CURRENT
        for attempt in range(_LOAD_ATTEMPTS):
            try:
                status = pointer.stat()
            except FileNotFoundError:
                return False
            if (status.st_ino, status.st_mtime_ns) == self._current and not self._changed_under_us():
                return False
            try:
                return self._adopt(self._load(pointer), (status.st_ino, status.st_mtime_ns))
            except IndexCorruptError:
                again = pointer.stat()
                if attempt == _LOAD_ATTEMPTS - 1 or (again.st_ino, again.st_mtime_ns) == (status.st_ino, status.st_mtime_ns):
                    raise  # damaged for real, not replaced while we read it
        return False

    def _changed_under_us(self) -> bool:
        """Whether a mapped file of the view changed since it was opened (a stat per file, on every
        refresh, so a file truncated under a running server is found before a read past its end
        kills the process). Its segment is opened again, which checks the sizes: a truncated file is
        an ``IndexCorruptError`` (and repaired), a file only touched is mapped afresh."""
        changed = False
        for part in self._view.parts:
            problem = part.segment.changed_under_us()
            if problem is not None:
                log.warning("%s: opening its segment again", problem)
                with self._lock:
                    self._segments = {key: segment for key, segment in self._segments.items() if segment is not part.segment}
                changed = True
        return changed

    def _adopt(self, view: LocalView, current: tuple[int, int] | None) -> bool:
        """Make ``view`` the store's unless a newer one came meanwhile (another thread's commit or
        refresh); segments no longer in use are forgotten. True when adopted."""
        with self._lock:
            old = self._view.manifest
            new = view.manifest
            if new is not None and old is not None and new.instance == old.instance and new.generation < old.generation:
                return False
            self._view, self._current = view, current
            kept = {(new.instance, name) for name in new.segments} if new else set()
            self._segments = {key: segment for key, segment in self._segments.items() if key in kept}
            return True

    def _segment(self, instance: str, name: str) -> Segment:
        """An open segment: the one already open, or opened now (sizes checked)."""
        with self._lock:
            found = self._segments.get((instance, name))
        if found is None:
            opened = Segment(self.segments_dir / name)
            with self._lock:
                found = self._segments.setdefault((instance, name), opened)
        return found

    def _load(self, pointer: Path) -> LocalView:
        return self._view_of(self._read_manifest(pointer))

    def _read_manifest(self, pointer: Path) -> LocalManifest:
        name = pointer.read_bytes().decode("ascii", errors="replace").strip()
        path = self.directory / name
        if not name.startswith("manifest-") or "/" in name:
            raise IndexCorruptError(f"{pointer} does not name a manifest ({name[:40]!r}): {REBUILD_HINT}")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise IndexCorruptError(f"{pointer} names a missing manifest {name}: {REBUILD_HINT}") from None
        return LocalManifest.from_json(data, path)

    def _view_of(self, manifest: LocalManifest) -> LocalView:
        parts = [Part(self._segment(manifest.instance, name), manifest.removed.get(name, ())) for name in manifest.segments]
        return LocalView(manifest, parts, self.settings.vectors)

    def info(self) -> StoreInfo:
        view = self._view
        manifest = view.manifest
        return StoreInfo(
            backend="local files", location=str(self.directory), documents=len(view.locations), chunks=view.chunk_count,
            sentences=sum(p.live_sentences for p in view.parts), updated=manifest.created if manifest else "",
            generation=view.generation, details=view.details(),
        )  # fmt: skip

    def commit(self, change: Change) -> None:
        """Write the change as a new segment and manifest; the caller holds ``writer()``. A rebuild
        also replaces a damaged index, which it does not need to read."""
        if not read_base(self.refresh, change):
            with self._lock:  # replaced whole: nothing of the damaged index is read
                self._view, self._current = LocalView(None, [], self.settings.vectors), None
        self.remove_leftovers()
        view = self._view
        base = () if change.rebuild else tuple(part.segment.name for part in view.parts)
        removed = {} if change.rebuild else {name: set(rows) for name, rows in (view.manifest.removed.items() if view.manifest else ())}
        for index, row in removals(view.locations, change):
            removed.setdefault(view.parts[index].segment.name, set()).add(row)
        ids = Ids(view.manifest.next_chunk_id, view.manifest.next_sentence_id) if view.manifest else Ids()
        generation = max(view.generation, self._highest_generation()) + 1
        instance = view.manifest.instance if view.manifest else uuid.uuid4().hex
        with self._saving():
            added = self._write_segment(change, generation, ids)
            segments = [name for name in base if len(self._segment(instance, name).stored) > len(removed.get(name, ()))]
            segments = self._with_lookups(segments, removed, generation, instance)
            if added is not None:
                segments.append(added)
            segments, removed = self._merge(segments, removed, generation, instance)
            self._publish(generation, change.fingerprint, change.corpus_state, segments, removed, ids.chunk, ids.sentence, instance)
        self._collect_garbage()

    @contextlib.contextmanager
    def _saving(self) -> Iterator[None]:
        """A write that fails for want of space or permissions leaves nothing behind and says so."""
        try:
            yield
        except OSError as error:
            self.remove_leftovers()
            raise StorageError(f"could not save the index in {self.directory} ({error.strerror or error}); "
                               "free disk space or fix the folder's permissions: nothing was changed") from None  # fmt: skip

    def _publish(self, generation: int, fingerprint: Fingerprint, corpus_state: str, segments: Sequence[str],
                 removed: dict[str, set[int]], next_chunk: int, next_sentence: int, instance: str) -> None:  # fmt: skip
        """Write the manifest of ``segments`` and point ``CURRENT`` at it."""
        manifest = LocalManifest(
            generation=generation, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), fingerprint=fingerprint,
            corpus_state=corpus_state, segments=tuple(segments),
            removed={name: tuple(sorted(rows)) for name, rows in removed.items() if name in segments and rows},
            next_chunk_id=next_chunk, next_sentence_id=next_sentence, instance=instance,
        )  # fmt: skip
        new_view = self._view_of(manifest)
        manifest = LocalManifest(**{**manifest.__dict__, "counts": {
            "documents": len(new_view.locations), "chunks": new_view.chunk_count,
            "sentences": sum(p.live_sentences for p in new_view.parts)}})  # fmt: skip
        name = f"manifest-{generation:08d}.json"
        write_atomic(self.directory / name, manifest.to_json())
        write_atomic(self.directory / CURRENT, name.encode())  # the commit point
        status = (self.directory / CURRENT).stat()
        self._adopt(LocalView(manifest, new_view.parts, self.settings.vectors), (status.st_ino, status.st_mtime_ns))

    def rework(self, fingerprint: Fingerprint, derive: TermsOf | None) -> None:
        """Segments whose vector indexes are not what the settings give are written again sharing
        their files (hard links) but those indexes; with ``derive``, every segment is written again
        with its live documents' terms and names derived anew (vectors copied, never encoded).
        One new manifest: readers see the old segments or the new ones."""
        self.refresh()
        view, manifest = self._view, self._view.manifest
        assert manifest is not None, "nothing to rework in an empty index"
        self.remove_leftovers()
        generation = max(view.generation, self._highest_generation()) + 1
        segments: list[str] = []
        removed = {name: set(rows) for name, rows in manifest.removed.items()}
        with self._saving():
            for number, part in enumerate(view.parts, 1):
                segment = part.segment
                if derive is None and has_current_indexes(segment, self.settings.vectors):
                    segments.append(segment.name)
                    continue
                name = f"seg-{generation:08d}-r{number}"
                if derive is None:
                    self._new_segment(name, partial(link_with_new_indexes, segment.folder, vector_settings=self.settings.vectors))
                else:
                    live = [row for row in range(len(segment.stored)) if row not in part.removed_rows]
                    self._new_segment(name, partial(_copy, [(segment, live)], settings=self.settings, derive=derive))
                    removed.pop(segment.name, None)
                if segment.name in removed:
                    removed[name] = removed.pop(segment.name)
                segments.append(name)
            segments = self._with_lookups(segments, removed, generation, manifest.instance)
            self._publish(generation, fingerprint, manifest.corpus_state, segments, removed, manifest.next_chunk_id,
                          manifest.next_sentence_id, manifest.instance)  # fmt: skip
        self._collect_garbage()

    def _highest_generation(self) -> int:
        numbers = [name.removeprefix("manifest-").removesuffix(".json") for name in os.listdir(self.directory)
                   if name.startswith("manifest-")] if self.directory.is_dir() else []  # fmt: skip
        return max((int(number) for number in numbers if number.isdigit()), default=0)

    def _write_segment(self, change: Change, generation: int, ids: Ids) -> str | None:
        """The added documents as a new segment (None: nothing added); their pieces take ``ids``."""
        self.segments_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.segments_dir, prefix=".staging-"))
        try:
            writer: SegmentWriter | None = None
            for indexed in change.add:
                if writer is None:
                    writer = SegmentWriter(staging, indexed.chunk_vectors.shape[1])
                writer.add(indexed, *ids.take(indexed))
            if writer is None:
                return None
            name = f"seg-{generation:08d}"
            writer.finish(name, self.settings.vectors)
            staging.rename(self.segments_dir / name)
            fsync_dir(self.segments_dir)
            return name
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _with_lookups(self, segments: list[str], removed: dict[str, set[int]], generation: int, instance: str) -> list[str]:
        """The segments, those written before ``ids.json`` and ``names.json`` given them (hard links
        and the two files, nothing else), so that opening reads those instead of every document's
        lines; ``removed`` follows the new names."""
        current = []
        for number, name in enumerate(segments, 1):
            segment = self._segment(instance, name)
            if has_lookups(segment):
                current.append(name)
                continue
            current.append(self._new_segment(f"seg-{generation:08d}-l{number}", partial(link_with_lookups, segment)))
            if name in removed:
                removed[current[-1]] = removed.pop(name)
        return current

    def _merge(self, segments: list[str], removed: dict[str, set[int]], generation: int, instance: str) -> tuple[list[str], dict[str, set[int]]]:
        """Merge the neighbours with the fewest live pieces until at most ``max_segments`` remain."""
        merges = 0
        while len(segments) > self.settings.max_segments:
            sizes = [self._segment(instance, name).description["chunks"] for name in segments]
            pair = min(range(len(segments) - 1), key=lambda i: sizes[i] + sizes[i + 1])
            first, second = segments[pair], segments[pair + 1]
            merges += 1
            live = [(segment, [row for row in range(len(segment.stored)) if row not in removed.get(source, ())])
                    for source, segment in ((name, self._segment(instance, name)) for name in (first, second))]  # fmt: skip
            name = self._new_segment(f"seg-{generation:08d}-m{merges}", partial(_copy, live, settings=self.settings, derive=None))
            segments[pair : pair + 2] = [name]
            removed.pop(first, None)
            removed.pop(second, None)
        return segments, removed

    def _new_segment(self, name: str, write: Callable[[Path, str], object]) -> str:
        """A segment written by ``write(staging folder, name)``, moved into place and opened."""
        staging = Path(tempfile.mkdtemp(dir=self.segments_dir, prefix=".staging-"))
        try:
            write(staging, name)
            staging.rename(self.segments_dir / name)
            fsync_dir(self.segments_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return name

    def check(self, checksums: bool) -> Check:
        """The manifest, then each segment's files (sizes, or every byte against its checksum) and
        whether it opens; a damaged segment costs its own documents, a damaged IVF file nothing
        but rebuilding it from the stored vectors."""
        if not self.exists():
            return Check((), "no index yet")
        try:
            manifest = self._read_manifest(self.directory / CURRENT)
        except IndexCorruptError as error:
            return Check((Damage("manifest", str(error), "everything"),), "the manifest")
        damage, files, size = [], 0, 0
        for name in manifest.segments:
            found = examine(self.segments_dir / name, checksums)
            files, size = files + found.files, size + found.bytes
            if found.problems:
                problem = "; ".join(f"{file} {why}" for file, why in found.problems.items())
                documents = None if found.documents is None else found.documents - len(manifest.removed.get(name, ()))
                damage.append(Damage(name, problem, "vector index" if found.only_vector_indexes else "documents", documents))
        how = "every byte against its checksum" if checksums else "sizes"
        count = len(manifest.segments)
        return Check(tuple(damage), f"{count} segment{'s' * (count != 1)}, {files} files, {size / 2**20:,.1f} MB ({how})")

    def repair(self, damage: Sequence[Damage]) -> None:
        """A new manifest without the segments whose documents are damaged and with new vector
        indexes for the others ``damage`` names; its corpus state is empty, so the collection
        indexes again the documents that went missing (from the corpus folder)."""
        manifest = self._read_manifest(self.directory / CURRENT)
        redo = {item.part: item.redo for item in damage}
        generation = max(manifest.generation, self._highest_generation()) + 1
        segments, removed = [], {name: set(rows) for name, rows in manifest.removed.items()}
        self.remove_leftovers()
        with self._saving():
            for number, name in enumerate(manifest.segments, 1):
                if redo.get(name) is None:
                    segments.append(name)
                    continue
                with self._lock:
                    self._segments.pop((manifest.instance, name), None)
                if redo[name] == "vector index":
                    segments.append(self._new_segment(f"seg-{generation:08d}-r{number}", partial(
                        link_with_new_indexes, self.segments_dir / name, vector_settings=self.settings.vectors)))  # fmt: skip
                    if name in removed:
                        removed[segments[-1]] = removed.pop(name)
            self._publish(generation, manifest.fingerprint, "", segments, removed, manifest.next_chunk_id, manifest.next_sentence_id,
                          manifest.instance)  # fmt: skip
        self._collect_garbage()

    def has_leftovers(self) -> bool:
        return any(self.directory.glob("segments/.staging-*")) or any(self.directory.glob(".*.tmp"))

    def remove_leftovers(self) -> None:
        """Staging folders and temporary files of writes that died (only a writer calls this)."""
        for pattern in ("segments/.staging-*", ".*.tmp"):
            for path in self.directory.glob(pattern):
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)

    def _collect_garbage(self) -> None:
        """Segments and manifests the live manifest no longer names. Open segments stay readable
        (their files are open); a process still loading the old manifest retries with the new one."""
        live = set(self._view.manifest.segments) if self._view.manifest else set()
        current = (self.directory / CURRENT).read_text().strip()
        for path in self.segments_dir.glob("seg-*"):
            if path.name not in live:
                shutil.rmtree(path, ignore_errors=True)
        for path in self.directory.glob("manifest-*.json"):
            if path.name != current:
                path.unlink(missing_ok=True)

    def drop(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        with self._lock:
            self._segments, self._current, self._view = {}, None, LocalView(None, [], self.settings.vectors)

    def close(self) -> None:
        with self._lock:
            self._segments.clear()


def _copy(sources: Sequence[tuple[Segment, Sequence[int]]], folder: Path, name: str, *, settings: Settings, derive: TermsOf | None) -> None:
    """The given rows of segments as one new segment: as they are, or with their terms and names
    derived again by ``derive``."""
    writer = SegmentWriter(folder, sources[0][0].description["dimension"])
    for segment, rows in sources:
        writer.copy_documents(segment, rows, derive)
    writer.finish(name, settings.vectors)

"""``MilvusStore``: reading the state row into views, and the commit protocol of the package's docstring."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from rag.config import Settings
from rag.errors import IndexCorruptError, RagError
from rag.locking import writer_lock
from rag.store.base import REBUILD_HINT, Change, Check, Damage, Fingerprint, IndexedDocument, StoreInfo, TermsOf
from rag.store.commit import read_base, removals
from rag.store.milvus.client import TABLES, WRITE_TIMEOUT_S, Milvus, meta_name, parse_location, table_name
from rag.store.milvus.lease import Lease
from rag.store.milvus.rows import Caches, Doc, Rows
from rag.store.milvus.schema import DUMMY, FENCE_ID, FLAT, STATE_ID, approximate_index, described
from rag.store.milvus.state import Lexical, State, newer, visible
from rag.store.milvus.tables import Tables
from rag.store.milvus.view import PIECE_FIELDS, SENTENCE_FIELDS, MilvusView, indexed_of
from rag.store.milvus.writer import BATCH_ROWS, Writer, term_changes, update_terms

# Lite scans unflushed rows in Python on every search (814 vs 13 ms at 10k rows, §8): it is flushed
# after every commit. A server searches its growing segments well enough and seals them itself; a
# flush costs it 0.5–2.5 s, paid after large writes only (FLAT over 11.6k chunks: 16 → 9.6 ms).
FLUSH_CHUNKS = 5_000


class MilvusStore:
    """A collection's index in Milvus (see the package's docstring). Writers hold a file lock in
    ``index/<collection>/``: several writers must run on one machine (readers may run anywhere)."""

    def __init__(self, settings: Settings) -> None:
        assert settings.store is not None
        self.settings = settings
        self.location = parse_location(settings.store)
        self.slug = settings.collection
        self.meta = meta_name(self.slug)
        self.milvus = Milvus(self.location, settings.store_token)
        self.tables = Tables(self.milvus, self.slug, self.meta)
        self.caches = Caches()
        self._view = self._view_of(None, {})
        self._adopting = threading.Lock()
        self._writing: int | None = None  # the thread holding writer()
        self._lease: Lease | None = None  # held with writer() on a server
        self._fresh = False  # the view is the latest commit (known while holding writer())

    # ---- reading

    def view(self) -> MilvusView:
        return self._view

    def _view_of(self, state: State | None, docs: dict[str, Doc]) -> MilvusView:
        return MilvusView(self.milvus, self.settings.vectors, self.caches, state, docs, self.settings.lexical_scan_max)

    def refresh(self) -> bool:
        """One read of the state row: at Session level (sees this process's commits at once), or
        Strong under ``writer()``, whose changes must start from the latest commit — once: while
        this process holds the lock, no other commits."""
        writing = self._writing == threading.get_ident()
        if writing and self._fresh:
            return False
        state = self._read_state("Strong" if writing else "Session")
        self._fresh = writing
        return state is not None and newer(state, self._view.state) and self._adopt(self._load(state))

    def _adopt(self, view: MilvusView) -> bool:
        """Make ``view`` current unless a newer one came meanwhile (another thread's refresh or
        commit). Cached rows are keyed by table name and id, which a collection created again
        after a drop uses again: a new instance empties the caches."""
        with self._adopting:
            current = self._view.state
            if view.state is None or not newer(view.state, current):
                return False
            if current is not None and view.state.instance != current.instance:
                self.caches.clear()
            self._view = view
            return True

    def _read_state(self, consistency: str) -> State | None:
        if self.meta not in self.tables.loaded and not self.tables.load([self.meta], missing_ok=True):
            return None
        rows = self.milvus.call("read the index state", self.milvus.client.get, self.meta, ids=[STATE_ID],
                                output_fields=["state"], consistency_level=consistency)  # fmt: skip
        return State.from_json(rows[0]["state"], f"{self.location.shown} ({self.meta})") if rows else None

    def _load(self, state: State) -> MilvusView:
        self.tables.load(state.tables.values())
        rows = self.milvus.call("read the documents", self.milvus.client.query, state.tables["aux"],
                                filter=f'kind == "doc" and {state.visible}', output_fields=["dkey", "data"], **state.reads())  # fmt: skip
        docs = {doc.stored.id: doc for doc in map(Doc.from_row, rows)}
        if len(docs) != state.documents:
            raise IndexCorruptError(f"the index in {self.location.shown} lists {len(docs)} of its {state.documents} documents: {REBUILD_HINT}")
        return self._view_of(state, docs)

    # ---- writing

    @contextlib.contextmanager
    def writer(self) -> Iterator[None]:
        """The file lock (the processes of this host), then on a server the writer lease (every
        host: ``rag.store.milvus.lease``)."""
        what, lock = f"the index of {self.slug} in {self.location.shown}", self.settings.index_dir / "LOCK"
        with writer_lock(lock, self.settings.lock_timeout_s, what):
            lease = None
            if not self.location.lite:
                self.tables.ensure_meta()
                lease = Lease(self.milvus, self.meta, self.settings.writer_lease_s, what, lock)
                lease.acquire(self.settings.lock_timeout_s)
            self._writing, self._fresh, self._lease = threading.get_ident(), False, lease
            try:
                yield
            finally:
                self._writing, self._lease = None, None
                if lease is not None:
                    lease.release()

    def _check_lease(self) -> None:
        if self._lease is not None:
            self._lease.check()

    def commit(self, change: Change) -> None:
        """Steps 1–5 of the package's docstring; the caller holds ``writer()``."""
        try:
            self._commit(change)
        except BaseException:
            self._fresh = False  # whether the state row was written is unknown: read it again
            raise

    def _commit(self, change: Change) -> None:
        old = self._view.state if read_base(self.refresh, change) else None  # unreadable: its tables are leftovers
        generation = self._view.generation + 1
        self.tables.clean(old)
        base = None if change.rebuild else old
        docs = dict(self._view.docs) if base is not None else {}
        removed = removals(docs, change) if base is not None else []
        for doc in removed:
            del docs[doc.stored.id]
        dimension = change.fingerprint.dimension
        if base is not None and base.dimension != dimension:  # the collection rebuilds when its model changes
            raise IndexCorruptError(f"vectors of {dimension} dimensions for an index of {base.dimension}: {REBUILD_HINT}")
        # a server upgraded to 2.4+ keeps re-ranking until the next rebuild gives its chunks sparse vectors
        lexical: Lexical = base.lexical if base else "sparse" if self.milvus.sparse else "rerank"
        serial = base.serial if base else (old.serial if old else 0) + 1
        tables = dict(base.tables) if base else {kind: table_name(kind, serial, self.slug) for kind in TABLES}
        try:
            if base is None:  # new tables (a first build or a rebuild); otherwise the ones in use
                self.tables.create(tables, dimension, lexical == "sparse")
            self._fence(generation)  # a write of this generation is under way
            writer = Writer(self.milvus, tables, lexical == "sparse", base, self._check_lease)
            for indexed in change.add:
                docs[indexed.document.id] = writer.add(indexed)
            writer.finish()
            update_terms(self.milvus, tables["aux"], term_changes(self.milvus, writer, removed, base), generation, base)
            counts = {"chunks": sum(d.chunks for d in docs.values()), "sentences": sum(d.sentences for d in docs.values())}
            index = dict(base.index) if base else {"chunks": dict(FLAT), "sentences": dict(FLAT)}
            for kind, count in counts.items():
                if count > self.settings.vectors.exact_max and index[kind] == FLAT:
                    index[kind] = approximate_index(kind, count, self.settings.vectors, server=not self.location.lite)
                    if base is None:  # no reader uses this table yet
                        self.tables.switch_index(tables[kind], index[kind])
                    else:  # readers use this table: its rows move to a new one, named at the commit point
                        serial += 1
                        hidden = [d.dkey for d in removed] + list(base.removed)
                        end = writer.ids.chunk if kind == "chunks" else writer.ids.sentence
                        tables[kind] = self.tables.copy(kind, tables[kind], table_name(kind, serial, self.slug), dimension, lexical == "sparse",
                                                        index[kind], visible(writer.next_dkey, hidden), end, base)  # fmt: skip
            if self.location.lite or writer.ids.chunk - (base.next_chunk_id if base else 0) >= FLUSH_CHUNKS:
                self.tables.flush(tables.values())
            state = State(
                instance=old.instance if old else uuid.uuid4().hex, generation=generation, ts=self._fence(generation),
                updated=time.strftime("%Y-%m-%dT%H:%M:%S%z"), fingerprint=change.fingerprint, corpus_state=change.corpus_state,
                tables=tables, serial=serial, dimension=dimension, lexical=lexical, index=index, next_dkey=writer.next_dkey,
                removed=tuple(sorted(d.dkey for d in removed)), next_chunk_id=writer.ids.chunk,
                next_sentence_id=writer.ids.sentence, documents=len(docs), chunks=counts["chunks"],
                sentences=counts["sentences"], total_length=sum(d.length for d in docs.values()),
            )  # fmt: skip
        except Exception:
            with contextlib.suppress(RagError):
                self.tables.clean(old)  # what this write left; a crash leaves it to the next writer
            raise
        if self._lease is not None:  # no rows are removed after this: a writer that took over may own them
            self._lease.verify(old.generation if old else 0, old.instance if old else None)
        self._publish(state)
        self._adopt(self._view_of(state, docs))
        if old is not None:  # the tables the new state no longer names (a crash here leaves them to the next writer)
            self.tables.drop(sorted(set(old.tables.values()) - set(state.tables.values())), "drop replaced collections")

    def _fence(self, generation: int) -> int:
        """The fence row names the generation being written. It is upserted before a write's first
        row (``has_leftovers`` compares it with the state's generation) and after its last: the
        timestamp of that upsert is the commit's (0 on Lite)."""
        self.milvus.call("save the index state", self.milvus.client.upsert, self.meta,
                         [{"id": FENCE_ID, "state": {"generation": generation}, "dummy": DUMMY}], timeout=WRITE_TIMEOUT_S)  # fmt: skip
        return self.milvus.last_write_ts(self.meta)

    def _publish(self, state: State) -> None:
        """The commit point: one upsert of the state row."""
        self.milvus.call("save the index state", self.milvus.client.upsert, self.meta,
                         [{"id": STATE_ID, "state": state.to_json(), "dummy": DUMMY}], timeout=WRITE_TIMEOUT_S)  # fmt: skip

    def rework(self, fingerprint: Fingerprint, derive: TermsOf | None) -> None:
        """A rebuild into new tables from what the tables hold: offsets, vectors and texts are read
        back (never encoded again), terms and names kept or derived again by ``derive``. Milvus
        changes neither a table's index nor its rows in place while readers use it: new tables,
        named at the commit point, as for any rebuild."""
        self.refresh()
        state = self._view.state
        assert state is not None, "nothing to rework in an empty index"
        self.commit(Change(self._stored(self._view, derive), frozenset(), fingerprint, state.corpus_state, rebuild=True))

    def _stored(self, view: MilvusView, derive: TermsOf | None) -> Iterator[IndexedDocument]:
        """The view's documents as ingestion made them, in document-key order. Pieces are read a
        window of ids at a time, as ``Tables.copy`` does: a document's ids follow one another, and
        later documents have higher ids."""
        assert view.state is not None
        state = view.state
        chunks = Rows(self._rows(state, "chunks", PIECE_FIELDS, state.next_chunk_id))
        sentences = Rows(self._rows(state, "sentences", SENTENCE_FIELDS, state.next_sentence_id))
        docs = sorted(view.docs.values(), key=lambda doc: doc.dkey)
        for start in range(0, len(docs), 100):
            batch = docs[start : start + 100]
            texts = view.documents([doc.stored.id for doc in batch])
            for doc in batch:
                yield indexed_of(texts[doc.stored.id], doc, chunks.take(doc.dkey), sentences.take(doc.dkey), state.dimension, derive)

    def _rows(self, state: State, kind: str, fields: list[str], end: int) -> Iterator[dict[str, Any]]:
        """The visible rows of a table of ``state`` in id order."""
        for start in range(0, end, BATCH_ROWS):
            rows = self.milvus.call("read pieces", self.milvus.client.query, state.tables[kind], output_fields=fields,
                                    filter=f"id >= {start} and id < {start + BATCH_ROWS} and {state.visible}", **state.reads())  # fmt: skip
            yield from sorted(rows, key=lambda row: int(row["id"]))

    # ---- leftovers of dead writes

    def has_leftovers(self) -> bool:
        """Whether a write died: its fence names a generation after the state's, or collections
        the state does not name exist. One read of both rows (Session level: a write killed less
        than ~0.4 s ago may be missed here, never by the next commit's cleanup) and a listing."""
        if not self.tables.load([self.meta], missing_ok=True):
            return False
        rows = self.milvus.call("look for leftovers", self.milvus.client.get, self.meta, ids=[STATE_ID, FENCE_ID],
                                output_fields=["state"], consistency_level="Session")  # fmt: skip
        written = {int(row["id"]): row["state"] for row in rows}
        committed = int(written.get(STATE_ID, {}).get("generation", 0))
        tables = set(written.get(STATE_ID, {}).get("tables", {}).values())
        return int(written.get(FENCE_ID, {}).get("generation", 0)) > committed or bool(self.tables.owned() - tables)

    def remove_leftovers(self) -> None:
        try:
            self.refresh()
        except IndexCorruptError:
            return  # the rebuild that follows replaces everything
        state = self._view.state
        self.tables.clean(state)
        if self.tables.load([self.meta], missing_ok=True):
            self._fence(state.generation if state else 0)  # nothing is under way any more

    # ---- checking

    def check(self, checksums: bool) -> Check:
        """The state row readable and every collection it names present; with ``checksums``, their
        visible rows as many as it counts. Milvus keeps its own checksums of what it stores: any
        damage found here is repaired by rebuilding the index."""
        try:
            state = self._read_state("Strong")
        except IndexCorruptError as error:
            return Check((Damage(self.meta, str(error), "everything"),), "the state row")
        if state is None:
            return Check((), "no index yet")
        present = set(self.milvus.call("list collections", self.milvus.client.list_collections))
        damage = [Damage(name, "is missing", "everything") for name in state.tables.values() if name not in present]
        if checksums and not damage:
            self.tables.load(state.tables.values())
            expected = {"chunks": (state.chunks, state.visible), "sentences": (state.sentences, state.visible),
                        "aux": (state.documents, f'kind == "doc" and {state.visible}')}  # fmt: skip
            for kind, (count, condition) in expected.items():
                rows = self.milvus.call("count rows", self.milvus.client.query, state.tables[kind], filter=condition,
                                        output_fields=["count(*)"], **state.reads())  # fmt: skip
                if int(rows[0]["count(*)"]) != count:
                    damage.append(Damage(state.tables[kind], f"holds {rows[0]['count(*)']:,} rows where the state counts {count:,}", "everything"))
        what = "the state row and its collections" + (" with their row counts" if checksums else "")
        return Check(tuple(damage), what)

    def repair(self, damage: Sequence[Damage]) -> None:
        """Nothing to remove: ``check`` finds only damage that a rebuild repairs."""

    # ---- the rest

    def exists(self) -> bool:
        try:
            return self._read_state("Session") is not None
        except IndexCorruptError:
            return True

    def info(self) -> StoreInfo:
        state = self._view.state
        backend = "Milvus Lite" if self.location.lite else f"Milvus {self.milvus.release} server"
        if state is None:
            return StoreInfo(backend, self.location.shown, 0, 0, 0, "", 0)
        lexical = "sparse vectors (SPARSE_INVERTED_INDEX), re-scored exactly" if state.lexical == "sparse" else "BM25 re-ranks the dense candidates (Milvus < 2.4)"
        details = {"chunk vectors": described("chunks", state.index["chunks"], self.settings.vectors),
                   "sentence vectors": described("sentences", state.index["sentences"], self.settings.vectors), "lexical": lexical,
                   "collections": ", ".join([self.meta, *state.tables.values()])}  # fmt: skip
        return StoreInfo(backend, self.location.shown, state.documents, state.chunks, state.sentences, state.updated, state.generation, details)

    def drop(self) -> None:
        names = self.tables.owned() | ({self.meta} if self.milvus.call("look for its collections", self.milvus.client.has_collection, self.meta) else set())
        self.tables.drop(sorted(names), "drop its collections")
        self.tables.loaded.clear()
        self.caches.clear()
        self._view = self._view_of(None, {})

    def close(self) -> None:
        self.milvus.close()

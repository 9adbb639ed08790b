"""The collections of one rag collection in Milvus: created, loaded, re-indexed, copied, cleaned of
what dead writes left, dropped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rag.errors import StoreUnavailableError
from rag.store.milvus.client import INDEX_TIMEOUT_S, WRITE_TIMEOUT_S, Milvus, in_parallel, owned
from rag.store.milvus.rows import term_row
from rag.store.milvus.schema import FLAT, index_params, schema
from rag.store.milvus.state import State
from rag.store.milvus.writer import BATCH_ROWS, writer_reads


class Tables:
    """The collections named ``rag_*_<slug>`` and the meta collection ``meta``."""

    def __init__(self, milvus: Milvus, slug: str, meta: str) -> None:
        self.milvus, self.slug, self.meta = milvus, slug, meta
        self.loaded: set[str] = set()

    def load(self, names: Iterable[str], missing_ok: bool = False) -> bool:
        """Load collections once per process: Lite reopens every collection released (§9)."""
        for name in names:
            if name in self.loaded:
                continue
            if missing_ok and not self.milvus.call("look for its collections", self.milvus.client.has_collection, name):
                return False
            self.milvus.call("load its collections", self.milvus.client.load_collection, name, timeout=INDEX_TIMEOUT_S)
            self.loaded.add(name)
        return True

    def owned(self) -> set[str]:
        return {name for name in self.milvus.call("list collections", self.milvus.client.list_collections) if owned(name, self.slug)}

    def ensure_meta(self) -> None:
        """The meta collection, created if missing (by whichever writer of any host comes first)."""
        if self.meta in self.loaded or self.load([self.meta], missing_ok=True):
            return
        try:
            self.create({}, 0, False)
        except StoreUnavailableError:
            if not self.load([self.meta], missing_ok=True):  # not created by another host meanwhile
                raise

    def create(self, tables: Mapping[str, str], dimension: int, sparse: bool, index: Mapping[str, Any] = FLAT) -> None:
        """Create (and load) the tables, and the meta collection if missing, in parallel: loading
        one takes ≈ 2.4 s on 2.3 whatever its size (≈ 3 s for all four at once)."""
        client = self.milvus.client
        wanted = dict(tables)
        if not self.milvus.call("look for its collections", client.has_collection, self.meta):
            wanted["meta"] = self.meta

        def create(kind: str) -> None:
            self.milvus.call("create its collections", client.create_collection, wanted[kind], schema=schema(client, kind, dimension, sparse),
                             index_params=index_params(client, kind, sparse, index), consistency_level="Bounded", timeout=INDEX_TIMEOUT_S)  # fmt: skip
            self.loaded.add(wanted[kind])

        in_parallel(create, wanted)

    def switch_index(self, name: str, index: Mapping[str, Any]) -> None:
        """Change the dense index of a table no reader uses yet. The server indexes sealed segments
        only: a flush first, and ``create_index`` returns once the index is built."""
        client = self.milvus.client
        self.milvus.call("change an index", client.release_collection, name, timeout=INDEX_TIMEOUT_S)
        self.milvus.call("change an index", client.drop_index, name, "dense", timeout=INDEX_TIMEOUT_S)
        self.milvus.call("change an index", client.flush, name, timeout=INDEX_TIMEOUT_S)
        self.milvus.call("change an index", client.create_index, name, index_params(client, "chunks", False, index), timeout=INDEX_TIMEOUT_S)
        self.milvus.call("change an index", client.load_collection, name, timeout=INDEX_TIMEOUT_S)

    def copy(self, kind: str, source: str, target: str, dimension: int, sparse: bool, index: Mapping[str, Any], visible: str,
             end: int, base: State) -> str:  # fmt: skip
        """The ``visible`` rows of ``source`` (ids below ``end``) in a new table ``target``, a window of
        ids at a time: ids are dense, and pymilvus' query iterator saw none of the rows just written
        on 2.3."""
        self.create({kind: target}, dimension, sparse, index)
        fields = [f.name for f in schema(self.milvus.client, kind, dimension, sparse).fields]
        reads = writer_reads(self.milvus, base, source)
        for start in range(0, end, BATCH_ROWS):
            rows = self.milvus.call("read pieces", self.milvus.client.query, source, filter=f"id >= {start} and id < {start + BATCH_ROWS} and {visible}",
                                    output_fields=fields, **reads)  # fmt: skip
            if rows:
                self.milvus.call("save pieces", self.milvus.client.insert, target, rows, timeout=WRITE_TIMEOUT_S)
        if not self.milvus.location.lite:  # the server builds the index of sealed segments only (Lite is flushed at the end)
            self.milvus.call("change an index", self.milvus.client.flush, target, timeout=INDEX_TIMEOUT_S)
        return target

    def flush(self, names: Iterable[str]) -> None:
        in_parallel(lambda name: self.milvus.call("flush", self.milvus.client.flush, name, timeout=INDEX_TIMEOUT_S), names)

    def drop(self, names: Iterable[str], what: str) -> None:
        for name in names:
            self.milvus.call(what, self.milvus.client.drop_collection, name, timeout=WRITE_TIMEOUT_S)
            self.loaded.discard(name)

    def clean(self, state: State | None) -> None:
        """Step 1 of a commit: collections ``state`` does not name, rows of writes after it, rows it
        removed, and term rows of a generation after it (reverted to their previous value)."""
        client = self.milvus.client
        self.drop(sorted(self.owned() - (set(state.tables.values()) if state else set())), "drop leftover collections")
        if state is None:
            return
        self.load(state.tables.values())
        stale = f"dkey >= {state.next_dkey}" + (f" or dkey in {list(state.removed)}" if state.removed else "")

        def clean(name: str | None) -> list[dict[str, Any]]:  # each waits for a time tick: all at once
            if name is not None:
                self.milvus.call("remove leftovers", client.delete, name, filter=stale, timeout=WRITE_TIMEOUT_S)
                return []
            return self.milvus.call("read term statistics", client.query, state.tables["aux"], filter=f'kind == "term" and number > {state.generation}',
                                    output_fields=["key", "number", "data"], consistency_level="Strong")  # fmt: skip

        rows = in_parallel(clean, [None, *state.tables.values()])[0]
        reverted = [term_row(int(row["key"][1:]), int(row["data"]["prev_df"]), int(row["data"]["prev_gen"]),
                             int(row["data"]["prev_df"]), int(row["data"]["prev_gen"])) for row in rows]  # fmt: skip
        for start in range(0, len(reverted), BATCH_ROWS):
            self.milvus.call("remove leftovers", client.upsert, state.tables["aux"], reverted[start : start + BATCH_ROWS], timeout=WRITE_TIMEOUT_S)

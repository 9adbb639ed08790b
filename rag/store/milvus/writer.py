"""Writing a change's rows: the pieces and documents in batches, then each touched term's df."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from rag import bm25
from rag.store.base import IndexedDocument, StoredDocument
from rag.store.commit import Ids
from rag.store.milvus.client import TABLES, WRITE_TIMEOUT_S, Milvus
from rag.store.milvus.rows import Doc, aux_row, term_row, text_parts
from rag.store.milvus.state import State

BATCH_ROWS = 1_000
BATCH_BYTES = 8 << 20  # well under gRPC's 64 MB message limit
EMPTY_SPARSE = {2**32 - 2: 1e-30}  # Milvus refuses an empty sparse row; re-scoring gives this "term" 0


class Writer:
    """Inserts a change's rows in batches, and counts what it wrote and each term's df change."""

    def __init__(self, milvus: Milvus, tables: Mapping[str, str], sparse: bool, state: State | None, check: Callable[[], None]) -> None:
        """``check``: called before each batch, raises when this writer may no longer write."""
        self.milvus, self.tables, self.sparse, self.check = milvus, tables, sparse, check
        self.next_dkey = state.next_dkey if state else 0
        self.ids = Ids(state.next_chunk_id, state.next_sentence_id) if state else Ids()
        self.seen_chunks = state.chunks if state else 0  # for the average length of the sparse weights
        self.seen_length = state.total_length if state else 0
        self.deltas: Counter[int] = Counter()
        self.docs: list[Doc] = []
        self._rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in TABLES}
        self._bytes: Counter[str] = Counter()

    def add(self, indexed: IndexedDocument) -> Doc:
        document = indexed.document
        dkey = self.next_dkey
        first_chunk, first_sentence = self.ids.take(indexed)
        self.next_dkey += 1
        self.seen_chunks += len(indexed.chunks)
        self.seen_length += sum(indexed.chunk_lengths)
        average = self.seen_length / max(1, self.seen_chunks)
        holders: list[list[int]] = [[] for _ in indexed.sentences]
        for position, (start, end) in enumerate(indexed.chunks):
            inside = indexed.chunk_sentences[position]
            for sentence in inside:
                holders[sentence].append(first_chunk + position)
            counts = indexed.chunk_terms[position]
            terms = sorted(counts)
            row = {"id": first_chunk + position, "dkey": dkey, "start": start, "end": end, "length": indexed.chunk_lengths[position],
                   "sentences": {"ids": [first_sentence + s for s in inside]}, "terms": {"t": terms, "c": [counts[t] for t in terms]},
                   "dense": np.asarray(indexed.chunk_vectors[position], dtype=np.float32)}  # fmt: skip
            if self.sparse:
                tf = np.array([counts[t] for t in terms], dtype=np.float32)
                weights = bm25.term_weights(tf, np.full(len(terms), indexed.chunk_lengths[position]), average)
                row["sparse"] = dict(zip(terms, weights.tolist(), strict=True)) or EMPTY_SPARSE
            self.deltas.update(terms)
            self._append("chunks", row, 4 * len(row["dense"]) + 16 * len(terms))
        for position, (start, end) in enumerate(indexed.sentences):
            row = {"id": first_sentence + position, "dkey": dkey, "start": start, "end": end, "chunks": {"ids": holders[position]},
                   "dense": np.asarray(indexed.sentence_vectors[position], dtype=np.float32)}  # fmt: skip
            self._append("sentences", row, 4 * len(row["dense"]))
        parts = text_parts(document.text)
        for number, part in enumerate(parts):
            self._append("aux", aux_row(f"x{dkey}.{number}", "text", dkey, number, {}, part), len(part) * 3)
        doc = Doc(dkey, StoredDocument.of(document), dict(indexed.names), len(parts), len(indexed.chunks), len(indexed.sentences),
                  sum(indexed.chunk_lengths))  # fmt: skip
        self._append("aux", aux_row(f"d{dkey}", "doc", dkey, 0, doc.data()), 1024)
        self.docs.append(doc)
        return doc

    def _append(self, kind: str, row: dict[str, Any], size: int) -> None:
        self._rows[kind].append(row)
        self._bytes[kind] += size
        if len(self._rows[kind]) >= BATCH_ROWS or self._bytes[kind] >= BATCH_BYTES:
            self._insert(kind)

    def _insert(self, kind: str) -> None:
        if self._rows[kind]:
            self.check()
            self.milvus.call("save pieces", self.milvus.client.insert, self.tables[kind], self._rows[kind], timeout=WRITE_TIMEOUT_S)
        self._rows[kind], self._bytes[kind] = [], 0

    def finish(self) -> None:
        for kind in TABLES:
            self._insert(kind)


def writer_reads(milvus: Milvus, base: State | None, table: str) -> dict[str, Any]:
    """Reads of a writer see the last commit and this process's writes to ``table`` (its reverts,
    its new rows), without waiting for anything newer."""
    ts = max(base.ts if base else 0, milvus.last_write_ts(table))
    return {"consistency_level": "Customized", "guarantee_timestamp": ts} if ts else {"consistency_level": "Strong"}


def term_changes(milvus: Milvus, writer: Writer, removed: list[Doc], base: State | None) -> Counter[int]:
    """Each term's df change: +1 per added chunk holding it, −1 per removed one."""
    changes = Counter(writer.deltas)
    if removed and base is not None:
        rows = milvus.call("read the removed pieces", milvus.client.query, base.tables["chunks"],
                           filter=f"dkey in {[d.dkey for d in removed]}", output_fields=["terms"], **base.reads())  # fmt: skip
        changes.subtract(term for row in rows for term in row["terms"]["t"])
    return changes


def update_terms(milvus: Milvus, aux: str, changes: Counter[int], generation: int, base: State | None) -> None:
    """New df rows for the changed terms, each keeping its previous value (readers of the previous
    generation use it). Read-modify-write of full rows: 2.3 has no partial upsert (§3). The read
    waits for the last commit and this write's own reverts (``Tables.clean``), nothing else."""
    changed = [term for term, delta in changes.items() if delta]
    current: dict[str, dict[str, Any]] = {}
    level = writer_reads(milvus, base, aux)
    for start in range(0, len(changed) if base else 0, BATCH_ROWS):
        keys = [f"t{term}" for term in changed[start : start + BATCH_ROWS]]
        rows = milvus.call("read term statistics", milvus.client.query, aux, filter=f"key in {keys}",
                           output_fields=["key", "number", "data"], **level)  # fmt: skip
        current.update((row["key"], row) for row in rows)
    rows = []
    for term in changed:
        row = current.get(f"t{term}")
        before, before_generation = (int(row["data"]["df"]), int(row["number"])) if row else (0, 0)
        rows.append(term_row(term, before + changes[term], generation, before, before_generation))
    write = milvus.client.upsert if base else milvus.client.insert
    for start in range(0, len(rows), BATCH_ROWS):
        milvus.call("save term statistics", write, aux, rows[start : start + BATCH_ROWS], timeout=WRITE_TIMEOUT_S)

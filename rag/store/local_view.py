"""The local store's read side: a manifest (``LocalManifest``, the JSON naming a generation's live
segments and the documents removed from them), the segments as a snapshot sees them with those
documents masked out (``Part``), and the snapshot itself (``LocalView``): vector and BM25 search
with or without a filter, pieces and documents by id, the name lexicon. ``rag.store.local`` writes
what this reads.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from rag import bm25
from rag.config import VectorIndexSettings
from rag.document import Document
from rag.errors import IndexCorruptError
from rag.fingerprint import installed_versions
from rag.store.base import (
    REBUILD_HINT,
    ChunkRecord,
    Fingerprint,
    IndexedDocument,
    LexicalRecall,
    SentenceRecord,
    StoredDocument,
    top_k,
)
from rag.store.filter_index import FilterIndex
from rag.store.segment import Segment
from rag.vectors import search_exact, search_ivf

FORMAT = 2
_LIBRARIES = ("faiss-cpu", "numpy", "jieba", "opencc", "langchain-text-splitters", "onnxruntime")


@dataclass(frozen=True)
class LocalManifest:
    generation: int
    created: str
    fingerprint: Fingerprint
    corpus_state: str
    segments: tuple[str, ...]
    removed: dict[str, tuple[int, ...]]  # segment name → removed document rows
    next_chunk_id: int
    next_sentence_id: int
    counts: dict[str, int] = field(default_factory=dict)
    instance: str = ""  # new when an index is created again (after a drop): its generations start over

    def to_json(self) -> bytes:
        payload = {
            "format": FORMAT, "instance": self.instance, "generation": self.generation, "created": self.created,
            "fingerprint": self.fingerprint.as_dict(), "corpus_state": self.corpus_state,
            "segments": list(self.segments), "removed": {name: list(rows) for name, rows in self.removed.items()},
            "next_chunk_id": self.next_chunk_id, "next_sentence_id": self.next_sentence_id,
            "counts": self.counts, "libraries": installed_versions(_LIBRARIES),
        }  # fmt: skip
        return json.dumps(payload, ensure_ascii=False, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes, path: Path) -> LocalManifest:
        try:
            payload = json.loads(data)
            if payload.get("format") != FORMAT:
                raise ValueError(f"format {payload.get('format')} is not {FORMAT}")
            manifest = cls(
                generation=int(payload["generation"]), created=str(payload["created"]),
                fingerprint=Fingerprint.from_dict(payload["fingerprint"], payload.get("libraries")), corpus_state=str(payload["corpus_state"]),
                segments=tuple(str(name) for name in payload["segments"]),
                removed={str(name): tuple(int(row) for row in rows) for name, rows in payload["removed"].items()},
                next_chunk_id=int(payload["next_chunk_id"]), next_sentence_id=int(payload["next_sentence_id"]),
                counts={str(k): int(v) for k, v in payload.get("counts", {}).items()}, instance=str(payload.get("instance", "")),
            )  # fmt: skip
            if any(value is None for value in manifest.fingerprint.as_dict().values()):
                raise ValueError("the fingerprint has empty fields")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise IndexCorruptError(f"index manifest {path} is unreadable ({error}): {REBUILD_HINT}") from None
        return manifest


class Part:
    """A segment as the view sees it: with its removed documents masked out."""

    def __init__(self, segment: Segment, removed_rows: Iterable[int]) -> None:
        self.segment = segment
        self.removed_rows = frozenset(removed_rows)
        removed = np.asarray(sorted(self.removed_rows), dtype=np.int32)
        self.chunk_deleted = np.isin(segment.chunk_docs, removed) if len(removed) else None
        self.sentence_deleted = np.isin(segment.sentence_docs, removed) if len(removed) else None
        self.deleted_chunk_rows = np.flatnonzero(self.chunk_deleted) if self.chunk_deleted is not None else None
        self.deleted_sentence_rows = np.flatnonzero(self.sentence_deleted) if self.sentence_deleted is not None else None
        lengths = np.asarray(segment.chunk_lengths, dtype=np.int64)
        live = ~self.chunk_deleted if self.chunk_deleted is not None else slice(None)
        self.live_chunks = int(lengths[live].size)
        self.live_length = int(lengths[live].sum())
        self.live_sentences = len(segment.sentence_ids) - (len(self.deleted_sentence_rows) if self.deleted_sentence_rows is not None else 0)
        self.live_documents = len(segment.stored) - len(self.removed_rows)

    def search(self, part: Literal["chunk", "sentence"], vector: np.ndarray, k: int, settings: VectorIndexSettings,
               rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """The ``k`` best (ids, cosines) of the live rows, or of ``rows`` alone (live, sorted: a filter's)."""
        segment = self.segment
        ids = segment.chunk_ids if part == "chunk" else segment.sentence_ids
        nprobe = settings.probes(part, segment.ann_lists[part]) if part in segment.ann else 0
        if rows is not None:
            return _search_rows(segment, part, ids, vector, k, nprobe, rows)
        if part in segment.ann:
            vectors = segment.chunk_vectors if part == "chunk" else segment.sentence_vectors
            deleted = self.deleted_chunk_rows if part == "chunk" else self.deleted_sentence_rows
            found, scores = search_ivf(segment.ann[part], vectors, vector, k, deleted, nprobe)
        else:
            vectors = segment.exact_chunk_vectors if part == "chunk" else segment.exact_sentence_vectors
            found, scores = search_exact(vectors, vector, k, self.chunk_deleted if part == "chunk" else self.sentence_deleted)
        return np.asarray(ids)[found], scores

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """A term's live (chunk rows, counts) in this segment."""
        rows, counts = self.segment.postings(term)
        if self.chunk_deleted is not None:
            keep = ~self.chunk_deleted[rows]
            rows, counts = rows[keep], counts[keep]
        return rows, counts

    def holds(self, term: int) -> bool:
        if not self.segment.has_term(term):
            return False
        return self.chunk_deleted is None or bool(len(self.postings(term)[0]))


EXACT_ROWS = 20_000  # a filter's rows up to this many are searched exactly (a product with their vectors)


def _search_rows(segment: Segment, part: str, ids: np.ndarray, vector: np.ndarray, k: int, nprobe: int,
                 rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """A search restricted to ``rows``: exact over their vectors when few or the segment has no IVF
    index, else the IVF index with a FAISS id selector of them (row numbers are its ids), completed
    exactly when the lists probed held fewer than ``k`` of them."""
    if not len(rows) or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    if part in segment.ann and len(rows) > EXACT_ROWS:
        vectors = segment.chunk_vectors if part == "chunk" else segment.sentence_vectors
        found, scores = search_ivf(segment.ann[part], vectors, vector, k, None, nprobe, allowed_rows=rows)
        if len(found) >= min(k, len(rows)):
            return np.asarray(ids)[found], scores
    if part in segment.ann:  # mapped: only the filter's rows are read
        vectors = segment.chunk_vectors if part == "chunk" else segment.sentence_vectors
    else:
        vectors = segment.exact_chunk_vectors if part == "chunk" else segment.exact_sentence_vectors
    found, scores = search_exact(np.asarray(vectors[rows], dtype=np.float32), vector, k, None)
    return np.asarray(ids)[rows[found]], scores


def rows_of_documents(owners: np.ndarray, documents: np.ndarray) -> np.ndarray:
    """The rows of a segment's pieces whose owner (``chunk_docs`` or ``sentence_docs``, ascending: a
    document's pieces are written together) is one of ``documents`` (ascending), in order. Two binary
    searches a document find its run: at 3M chunks comparing every owner with a filter's documents
    took 18 ms for 1,000 of them and 110 ms for 50,000, on each of a question's three searches."""
    documents = documents.astype(owners.dtype, copy=False)  # else numpy converts every owner to the documents' type first
    starts, ends = np.searchsorted(owners, documents, "left"), np.searchsorted(owners, documents, "right")
    lengths = ends - starts
    # the runs laid end to end: the i-th row overall, in run r, is starts[r] + (i - rows before run r)
    return np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(lengths.sum(), dtype=np.int64)


class SegmentNames:
    """The name lexicon of a snapshot: what its live documents write both in Latin letters and Chinese."""

    def __init__(self, parts: Sequence[Part]) -> None:
        self._parts = parts

    def name_translations(self, words: Iterable[str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for word in set(words):
            for part in self._parts:
                for row in part.segment.name_rows.get(word, ()):
                    if row not in part.removed_rows:
                        found.setdefault(word, set()).update(part.segment.names[row][word])
        return found


class LocalView:
    """A consistent snapshot: a manifest and its segments."""

    lexical_recall: LexicalRecall = "exact"

    def __init__(self, manifest: LocalManifest | None, parts: Sequence[Part], vectors: VectorIndexSettings) -> None:
        self.manifest = manifest
        self.parts = tuple(parts)
        self.vectors = vectors  # how many IVF lists a search probes: settings, not part of the index files
        self.locations = {
            doc_id: (index, row)
            for index, part in enumerate(self.parts)
            for row, doc_id in enumerate(part.segment.stored.ids)
            if row not in part.removed_rows
        }
        self.chunk_count = sum(part.live_chunks for part in self.parts)
        self.total_length = sum(part.live_length for part in self.parts)
        self.names = SegmentNames(self.parts)
        self._document_rows = lru_cache(maxsize=8)(self._document_rows_uncached)

    @property
    def generation(self) -> int:
        return self.manifest.generation if self.manifest else 0

    @property
    def fingerprint(self) -> Fingerprint | None:
        return self.manifest.fingerprint if self.manifest else None

    @property
    def corpus_state(self) -> str | None:
        return self.manifest.corpus_state if self.manifest else None

    def stored_documents(self) -> list[StoredDocument]:
        return [self.parts[index].segment.stored[row] for index, row in self.locations.values()]

    @cached_property
    def filter_index(self) -> FilterIndex:
        # at the view's first filtered question; threads racing here at worst build the same index twice
        return FilterIndex.of(stored.filter_fields() for stored in self.stored_documents())

    def documents(self, ids: Iterable[str]) -> dict[str, Document]:
        found = {}
        for doc_id in ids:
            location = self.locations.get(doc_id)
            if location is not None:
                found[doc_id] = self.parts[location[0]].segment.document(location[1])
        return found

    def _rows(self, within: Collection[str] | None, part: str) -> list[np.ndarray | None]:
        """Per segment, the live rows of ``part`` ("chunk" or "sentence") of the documents ``within``
        (None for every segment: no filter)."""
        if within is None:
            return [None] * len(self.parts)
        owners = (lambda segment: segment.chunk_docs) if part == "chunk" else (lambda segment: segment.sentence_docs)
        return [rows_of_documents(owners(p.segment), rows) for p, rows in zip(self.parts, self._document_rows(frozenset(within)), strict=True)]

    def _document_rows_uncached(self, within: frozenset[str]) -> list[np.ndarray]:
        """Per segment, the rows of the live documents ``within``, ascending. A look-up a document
        (1-2 µs at 100k documents): kept for the last few filters (``_document_rows``), so a question's
        three searches, and the questions asked after it under the same filter, look them up once."""
        documents: list[list[int]] = [[] for _ in self.parts]
        for doc_id in within:
            location = self.locations.get(doc_id)  # live documents only
            if location is not None:
                documents[location[0]].append(location[1])
        return [np.sort(np.asarray(rows, dtype=np.int64)) for rows in documents]

    def _search(self, part: Literal["chunk", "sentence"], vector: np.ndarray, k: int, rows: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
        results = [p.search(part, vector, k, self.vectors, allowed) for p, allowed in zip(self.parts, rows, strict=True)]
        if not results:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return top_k(np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results]), k)

    def search_chunks(self, vectors: np.ndarray, k: int, within: Collection[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        # one vector at a time: a product with a matrix of queries rounds otherwise, and the scores
        # must stay those fused before (the gold figures are unchanged); no round trip to save here
        rows = self._rows(within, "chunk")
        return [self._search("chunk", vector, k, rows) for vector in vectors]

    def search_sentences(self, vectors: np.ndarray, k: int, within: Collection[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        rows = self._rows(within, "sentence")
        return [self._search("sentence", vector, k, rows) for vector in vectors]

    def lexical_search(self, term_ids: Sequence[int], k: int, candidates: Collection[int] = (),
                       within: Collection[str] | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """BM25 over the live chunks (every chunk holding a query term: ``candidates`` are not
        needed here): document frequencies summed over the segments, then each segment's rows
        scored in a dense array (``bm25.score``) and its best kept; with ``within``, only the rows
        of those documents are scored (their postings kept, the others dropped)."""
        if not self.chunk_count:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        postings = {term: [part.postings(term) for part in self.parts] for term in set(term_ids)}
        idfs = bm25.idfs({term: sum(len(rows) for rows, _ in parts) for term, parts in postings.items()}, self.chunk_count)
        average = self.total_length / self.chunk_count
        documents = self._document_rows(frozenset(within)) if within is not None else None
        found_ids, found_scores = [], []
        for index, part in enumerate(self.parts):
            mine = {term: parts[index] for term, parts in postings.items()}
            if documents is not None:  # the postings' owners among the filter's documents: no row of theirs listed
                mine = {term: (rows[keep], counts[keep]) for term, (rows, counts) in mine.items()
                        for keep in [np.isin(part.segment.chunk_docs[rows], documents[index])]}  # fmt: skip
            scores = bm25.score(term_ids, mine, part.segment.chunk_lengths, idfs, average)
            if scores is not None:
                rows = np.flatnonzero(scores > 0)
                found_ids.append(np.asarray(part.segment.chunk_ids)[rows])
                found_scores.append(scores[rows])
        if not found_ids:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return top_k(np.concatenate(found_ids), np.concatenate(found_scores), k)

    def known_terms(self, term_ids: Iterable[int]) -> set[int]:
        return {term for term in set(term_ids) if any(part.holds(term) for part in self.parts)}

    def _locate(self, ids: Iterable[int], kind: str) -> list[tuple[int, Part, int]]:
        """(id, part, row) of each id found, in the order given; one binary search per part."""
        wanted = np.fromiter((int(i) for i in ids), dtype=np.int64)
        found: dict[int, tuple[Part, int]] = {}
        for part in self.parts:
            known = part.segment.chunk_ids if kind == "chunk" else part.segment.sentence_ids
            if not len(known) or not len(wanted):
                continue
            rows = np.minimum(np.searchsorted(known, wanted), len(known) - 1)
            for position in np.flatnonzero(known[rows] == wanted):
                found.setdefault(int(wanted[position]), (part, int(rows[position])))
        return [(int(i), *found[int(i)]) for i in wanted if int(i) in found]

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRecord]:
        records = {}
        for chunk_id, part, row in self._locate(ids, "chunk"):
            segment = part.segment
            start, end = (int(v) for v in segment.chunk_spans[row])
            sentence_ids = segment.sentence_ids[segment.sentences_of_chunk(row)]
            doc_id = segment.stored.ids[int(segment.chunk_docs[row])]
            records[chunk_id] = ChunkRecord(chunk_id, doc_id, start, end, tuple(sentence_ids.tolist()))
        return records

    def sentences(self, ids: Iterable[int]) -> dict[int, SentenceRecord]:
        records = {}
        for sentence_id, part, row in self._locate(ids, "sentence"):
            segment = part.segment
            start, end = (int(v) for v in segment.sentence_spans[row])
            chunk_ids = segment.chunk_ids[segment.chunks_of_sentence(row)]
            doc_id = segment.stored.ids[int(segment.sentence_docs[row])]
            records[sentence_id] = SentenceRecord(sentence_id, doc_id, start, end, tuple(chunk_ids.tolist()))
        return records

    def sentence_vectors(self, ids: Sequence[int]) -> np.ndarray:
        dimension = self.parts[0].segment.description["dimension"] if self.parts else 0
        vectors = np.zeros((len(ids), dimension), dtype=np.float32)
        position = {int(i): n for n, i in enumerate(ids)}
        by_part: dict[int, list[tuple[int, int]]] = {}
        for sentence_id, part, row in self._locate(ids, "sentence"):
            by_part.setdefault(id(part), []).append((position[sentence_id], row))
        for part in self.parts:
            pairs = by_part.get(id(part))
            if pairs:
                at, rows = (np.array(column) for column in zip(*pairs, strict=True))
                order = np.argsort(rows)  # mapped rows read in file order
                vectors[at[order]] = part.segment.sentence_vectors[rows[order]]
        return vectors

    def pieces(self, ids: Iterable[str]) -> dict[str, IndexedDocument]:
        found = {}
        for doc_id in ids:
            location = self.locations.get(doc_id)
            if location is None:
                continue
            segment, row = self.parts[location[0]].segment, location[1]
            chunks, sentences = segment.chunk_rows_of(row), segment.sentence_rows_of(row)
            first_sentence = int(sentences[0]) if len(sentences) else 0
            terms = [segment.terms_of_chunk(int(chunk)) for chunk in chunks]
            found[doc_id] = IndexedDocument(
                document=segment.document(row), chunks=tuple((int(s), int(e)) for s, e in segment.chunk_spans[chunks]),
                sentences=tuple((int(s), int(e)) for s, e in segment.sentence_spans[sentences]),
                chunk_sentences=tuple(tuple((segment.sentences_of_chunk(int(chunk)) - first_sentence).tolist()) for chunk in chunks),
                chunk_terms=tuple(dict(zip(t.tolist(), c.tolist(), strict=True)) for t, c in terms),
                chunk_lengths=tuple(int(length) for length in segment.chunk_lengths[chunks]),
                chunk_vectors=np.asarray(segment.chunk_vectors[chunks], dtype=np.float32),
                sentence_vectors=np.asarray(segment.sentence_vectors[sentences], dtype=np.float32), names=dict(segment.names[row]),
            )  # fmt: skip
        return found

    def details(self) -> dict[str, str]:
        kinds: dict[str, set[str]] = {"chunk vectors": set(), "sentence vectors": set()}
        for part in self.parts:
            for piece, kind in part.segment.description["kinds"].items():
                probes = f" (nprobe {self.vectors.probes(piece, part.segment.ann_lists[piece])})" if piece in part.segment.ann else ""
                kinds[f"{piece} vectors"].add(kind + probes)
        return {name: ", ".join(sorted(found)) or "—" for name, found in kinds.items()} | {"segments": str(len(self.parts))}

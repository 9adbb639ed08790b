"""A consistent read snapshot of a Milvus store: one state row and the documents it names."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from rag import bm25
from rag.config import VectorIndexSettings
from rag.document import Document, from_entry
from rag.errors import IndexCorruptError
from rag.fingerprint import Fingerprint
from rag.store.base import REBUILD_HINT, ChunkRecord, IndexedDocument, LexicalRecall, SentenceRecord, StoredDocument, Terms, TermsOf, top_k
from rag.store.filter_index import FilterIndex
from rag.store.milvus.client import Milvus, in_parallel
from rag.store.milvus.expression import document_filters
from rag.store.milvus.rows import Cache, Caches, Doc, term_frequency
from rag.store.milvus.schema import MAX_LIMIT, search_params
from rag.store.milvus.state import State

BATCH_ROWS = 1_000
LEXICAL_CANDIDATES = 4  # sparse candidates fetched per chunk asked for, re-scored exactly
_RERANKED = ("dkey", "start", "end", "sentences", "terms", "length")  # what re-ranking a chunk by BM25 reads of it


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros(0, np.float32)


PIECE_FIELDS = ["id", "dkey", "start", "end", "length", "sentences", "terms", "dense"]  # what a chunk row gives back to ingestion
SENTENCE_FIELDS = ["id", "dkey", "start", "end", "dense"]


def indexed_of(document: Document, doc: Doc, chunk_rows: Sequence[Mapping[str, Any]], sentence_rows: Sequence[Mapping[str, Any]],
               dimension: int, derive: TermsOf | None = None) -> IndexedDocument:  # fmt: skip
    """A document as ingestion made it, from its rows (in id order): never encoded again. ``derive``:
    its terms and names derived again from its text instead of read back."""
    spans = [(int(row["start"]), int(row["end"])) for row in chunk_rows]
    position = {int(row["id"]): n for n, row in enumerate(sentence_rows)}
    terms = derive(document.text, spans) if derive else Terms(
        tuple(dict(zip(row["terms"]["t"], row["terms"]["c"], strict=True)) for row in chunk_rows),
        tuple(int(row["length"]) for row in chunk_rows), doc.names)  # fmt: skip
    return IndexedDocument(
        document=document, chunks=tuple(spans), sentences=tuple((int(r["start"]), int(r["end"])) for r in sentence_rows),
        chunk_sentences=tuple(tuple(position[int(i)] for i in row["sentences"]["ids"]) for row in chunk_rows),
        chunk_terms=terms.chunk_terms, chunk_lengths=terms.chunk_lengths,
        chunk_vectors=np.asarray([row["dense"] for row in chunk_rows], dtype=np.float32).reshape(-1, dimension),
        sentence_vectors=np.asarray([row["dense"] for row in sentence_rows], dtype=np.float32).reshape(-1, dimension),
        names=terms.names,
    )  # fmt: skip


class DocumentNames:
    """The name lexicon of a snapshot: what its documents write both in Latin letters and Chinese."""

    def __init__(self, docs: Iterable[Doc]) -> None:
        self._docs = tuple(docs)

    def name_translations(self, words: Iterable[str]) -> dict[str, set[str]]:
        wanted = set(words)
        found: dict[str, set[str]] = {}
        for doc in self._docs:
            for word in wanted & doc.names.keys():
                found.setdefault(word, set()).update(doc.names[word])
        return found


class _Postings:
    """Chunks' term counts as postings (term → (positions, counts)), for exact BM25 over all of them."""

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.ids = np.array([int(row["id"]) for row in rows], dtype=np.int64)
        self.dkeys = np.array([int(row["dkey"]) for row in rows], dtype=np.int64)
        self.lengths = np.array([int(row["length"]) for row in rows], dtype=np.int32)
        lists: dict[int, tuple[list[int], list[int]]] = {}
        for position, row in enumerate(rows):
            for term, count in zip(row["terms"]["t"], row["terms"]["c"], strict=True):
                positions, counts = lists.setdefault(int(term), ([], []))
                positions.append(position)
                counts.append(int(count))
        self._lists = {term: (np.array(p, dtype=np.int64), np.array(c, dtype=np.int32)) for term, (p, c) in lists.items()}

    def of(self, terms: Iterable[int], dkeys: np.ndarray | None = None) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Each term's (positions, counts); with ``dkeys``, only the chunks of those documents."""
        found = {term: self._lists[term] for term in set(terms) if term in self._lists}
        if dkeys is None:
            return found
        return {term: (positions[keep], counts[keep]) for term, (positions, counts) in found.items()
                for keep in [np.isin(self.dkeys[positions], dkeys)]}  # fmt: skip


class MilvusView:
    """A consistent snapshot: one state row and the documents it names. Every read passes the
    state's consistency (``State.reads``); rows are cached in ``caches``, shared by the store's views."""

    def __init__(self, milvus: Milvus, vectors: VectorIndexSettings, caches: Caches, state: State | None, docs: Mapping[str, Doc],
                 scan_max: int) -> None:  # fmt: skip
        """``scan_max``: without sparse vectors, collections of at most this many chunks have exact
        BM25 from every chunk's term counts, read once (``Settings.lexical_scan_max``)."""
        self._milvus, self._vectors, self._caches = milvus, vectors, caches
        self.state = state
        self.docs = dict(docs)
        self._by_key = {doc.dkey: doc for doc in self.docs.values()}
        self._frequencies = Cache(100_000)
        self.names = DocumentNames(self.docs.values())
        self._scan = state is not None and state.lexical == "rerank" and state.chunks <= scan_max
        self._postings: _Postings | None = None
        self._scanning = threading.Lock()
        self._restricted = lru_cache(maxsize=8)(self._restricted_uncached)

    @property
    def generation(self) -> int:
        return self.state.generation if self.state else 0

    @property
    def fingerprint(self) -> Fingerprint | None:
        return self.state.fingerprint if self.state else None

    @property
    def corpus_state(self) -> str | None:
        return self.state.corpus_state if self.state else None

    @property
    def lexical_recall(self) -> LexicalRecall:
        if self.state is None or self.state.lexical == "sparse":
            return "sparse"
        return "exact" if self._scan else "candidates"

    def _reads(self) -> dict[str, Any]:
        assert self.state is not None
        return self.state.reads()

    def stored_documents(self) -> list[StoredDocument]:
        return [doc.stored for doc in self.docs.values()]

    @cached_property
    def filter_index(self) -> FilterIndex:
        # at the view's first filtered question; threads racing here at worst build the same index twice
        return FilterIndex.of(stored.filter_fields() for stored in self.stored_documents())

    def documents(self, ids: Iterable[str]) -> dict[str, Document]:
        wanted = {doc_id: self.docs[doc_id] for doc_id in ids if doc_id in self.docs}
        aux = self.state.tables["aux"] if self.state else ""
        texts = {doc.dkey: self._caches.texts.get((aux, doc.dkey)) for doc in wanted.values()}
        missing = [self._by_key[key] for key, text in texts.items() if text is None]
        parts = {row["key"]: row["text"] for row in self._get("aux", [f"x{d.dkey}.{n}" for d in missing for n in range(d.parts)], ["text"])}
        for doc in missing:
            found = [parts.get(f"x{doc.dkey}.{n}") for n in range(doc.parts)]
            if None in found:
                raise IndexCorruptError(f"the text of {doc.stored.id} in {aux} lacks parts: {REBUILD_HINT}")
            texts[doc.dkey] = "".join(found)  # type: ignore[arg-type]
            self._caches.texts.put((aux, doc.dkey), texts[doc.dkey])
        return {doc_id: from_entry(doc.stored.entry, texts[doc.dkey]) for doc_id, doc in wanted.items()}  # type: ignore[arg-type]

    def _within(self, within: Collection[str] | None) -> tuple[tuple[str, ...], np.ndarray | None]:
        """The filter expressions of a search: the snapshot's visible rows, and with ``within`` those
        of its documents (from their keys, so no schema change): one expression, or several to search
        at once when one would be too long (``rag.store.milvus.expression``), none when no document
        is admitted. And the documents' keys (None: all)."""
        assert self.state is not None
        if within is None:
            return (self.state.visible,), None
        return self._restricted(frozenset(within))

    def _restricted_uncached(self, within: frozenset[str]) -> tuple[tuple[str, ...], np.ndarray | None]:
        """``_within`` of a filter: a look-up a document and the expressions built (43 ms for 50,000
        scattered of 100,000), kept for the last few filters (``_restricted``), so a question's
        searches and the questions after it under the same filter build them once."""
        assert self.state is not None
        dkeys = np.array(sorted(self.docs[doc_id].dkey for doc_id in within if doc_id in self.docs), dtype=np.int64)
        expressions = document_filters(dkeys, self._held_keys)
        if expressions is None:
            return (self.state.visible,), None
        return tuple(f"({self.state.visible}) and ({expression})" for expression in expressions), dkeys

    @cached_property
    def _held_keys(self) -> np.ndarray:
        return np.array(sorted(doc.dkey for doc in self.docs.values()), dtype=np.int64)

    def _get(self, table: str, ids: Sequence[int | str], output: list[str]) -> list[dict[str, Any]]:
        """Rows by primary key. No visibility filter: on Lite any other condition turns the lookup
        into a scan of the table (100 rows of 10,863: 4.3 ms by key, 16 ms with ``and dkey < N``).
        Callers ask only for ids a search of this snapshot returned, or that its records name."""
        if not ids or self.state is None:
            return []
        return self._milvus.call("read", self._milvus.client.get, self.state.tables[table], ids=list(ids), output_fields=output, **self._reads())

    def _search(self, table: str, vectors: np.ndarray, k: int, output: list[str],
                within: Collection[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:  # fmt: skip
        """One request for every row of ``vectors``, the filter of ``within`` applied by the search
        (one request a part of a filter too long for one expression, issued at once, each part's ``k``
        best merged); the hits' records are remembered (retrieval asks for them next)."""
        state = self.state
        if state is None or k <= 0 or not state.documents:
            return [_empty() for _ in vectors]
        expressions, _ = self._within(within)
        if not expressions:
            return [_empty() for _ in vectors]
        found = in_parallel(lambda expression: self._search_filtered(table, vectors, k, output, expression), expressions)
        if len(found) == 1:
            return found[0]
        return [top_k(np.concatenate([ids for ids, _ in parts]), np.concatenate([scores for _, scores in parts]), k) for parts in zip(*found, strict=True)]

    def _search_filtered(self, table: str, vectors: np.ndarray, k: int, output: list[str], expression: str) -> list[tuple[np.ndarray, np.ndarray]]:
        state = self.state
        assert state is not None
        hits = self._milvus.call("search", self._milvus.client.search, state.tables[table], data=list(np.asarray(vectors, dtype=np.float32)),
                                 anns_field="dense", limit=min(k, MAX_LIMIT), filter=expression, output_fields=output,
                                 search_params=search_params(table, state.index[table], self._vectors, k), **self._reads())  # fmt: skip
        rows = [{"id": hit["id"], **hit["entity"]} for found in hits for hit in found]
        self._remember(table, rows)
        if "terms" in output:
            for row in rows:
                self._caches.terms.put((state.tables[table], int(row["id"])), row)
        return [(np.array([hit["id"] for hit in found], np.int64), np.array([hit["distance"] for hit in found], np.float32)) for found in hits]

    def search_chunks(self, vectors: np.ndarray, k: int, within: Collection[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        if self.lexical_recall != "candidates":
            return self._search("chunks", vectors, k, ["dkey", "start", "end", "sentences"], within)
        return self._search("chunks", vectors, k, list(_RERANKED), within)  # BM25 re-ranks them next: no read of them again

    def search_sentences(self, vectors: np.ndarray, k: int, within: Collection[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        return self._search("sentences", vectors, k, ["dkey", "start", "end", "chunks"], within)

    def _frequencies_of(self, terms: Iterable[int]) -> dict[int, int]:
        """Each term's df in this snapshot (0 for a term no chunk holds)."""
        if self.state is None:
            return dict.fromkeys(terms, 0)
        found = {term: self._frequencies.get(term) for term in set(terms)}
        missing = [f"t{term}" for term, df in found.items() if df is None]
        for start in range(0, len(missing), BATCH_ROWS):
            keys = missing[start : start + BATCH_ROWS]
            rows = self._milvus.call("read term statistics", self._milvus.client.query, self.state.tables["aux"], filter=f"key in {keys}",
                                     output_fields=["key", "number", "data"], **self._reads())  # fmt: skip
            for row in rows:
                found[int(row["key"][1:])] = term_frequency(row, self.state.generation)
        for term, df in found.items():
            self._frequencies.put(term, df or 0)
        return {term: df or 0 for term, df in found.items()}

    def known_terms(self, term_ids: Iterable[int]) -> set[int]:
        return {term for term, df in self._frequencies_of(term_ids).items() if df > 0}

    def lexical_search(self, term_ids: Sequence[int], k: int, candidates: Collection[int] = (),
                       within: Collection[str] | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        state = self.state
        if state is None or not state.chunks or not term_ids or k <= 0:
            return _empty()
        expressions, dkeys = self._within(within)
        if not expressions:
            return _empty()
        frequencies = self._frequencies_of(term_ids)
        known = [term for term in term_ids if frequencies[term] > 0]
        if not known:
            return _empty()
        if state.lexical == "sparse":
            # Candidates from the sparse vectors: IDF × occurrences on the query side; their
            # document weights used the average length of their time, so a few more are fetched
            weights = {term: float(bm25.idf(frequencies[term], state.chunks)) * count for term, count in Counter(known).items()}
            def sparse(expression: str) -> list[dict[str, Any]]:
                return self._milvus.call("search", self._milvus.client.search, state.tables["chunks"], data=[weights], anns_field="sparse",
                                         limit=min(LEXICAL_CANDIDATES * k + 50, MAX_LIMIT), filter=expression, output_fields=["terms", "length"],
                                         search_params={"metric_type": "IP"}, **self._reads())[0]  # fmt: skip

            # one request a part of the filter, issued at once
            rows = [{"id": hit["id"], **hit["entity"]} for hits in in_parallel(sparse, expressions) for hit in hits]
        elif self._scan:
            postings = self._scanned()
            scores = bm25.score(term_ids, postings.of(term_ids, dkeys), postings.lengths, bm25.idfs(frequencies, state.chunks),
                                state.total_length / state.chunks)  # fmt: skip
            if scores is None:
                return _empty()
            return top_k(postings.ids[scores > 0], scores[scores > 0], k)
        else:
            # Milvus 2.3: no sparse vectors, one vector field per collection (§3), so nothing can
            # find lexical matches in a large store; the dense candidates are re-ranked instead.
            # Their records come along: retrieval asks for the best of them next
            name = state.tables["chunks"]
            cached = {int(i): self._caches.terms.get((name, int(i))) for i in candidates}
            rows = self._get("chunks", sorted(i for i, row in cached.items() if row is None), list(_RERANKED))
            self._remember("chunks", rows)
            rows = sorted([row for row in cached.values() if row is not None] + rows, key=lambda row: int(row["id"]))
            rows = [row for row in rows if int(row["dkey"]) in self._by_key]  # read by key: the snapshot's rows only
            if dkeys is not None:  # the candidates came from searches of the same filter; given others, it holds all the same
                kept = set(dkeys.tolist())
                rows = [row for row in rows if int(row["dkey"]) in kept]
        return top_k(*self._rescore(term_ids, rows, frequencies), k)

    def _rescore(self, term_ids: Sequence[int], rows: list[dict[str, Any]], frequencies: Mapping[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Exact BM25 of ``rows`` (``rag.bm25``), from their term counts and the snapshot's statistics."""
        assert self.state is not None
        wanted = set(term_ids)
        postings: dict[int, tuple[list[int], list[int]]] = {}  # term → (positions in rows, counts)
        for position, row in enumerate(rows):
            for term, count in zip(row["terms"]["t"], row["terms"]["c"], strict=True):
                if term in wanted:
                    positions, counts = postings.setdefault(term, ([], []))
                    positions.append(position)
                    counts.append(count)
        ids = np.array([int(row["id"]) for row in rows], dtype=np.int64)
        lengths = np.array([int(row["length"]) for row in rows], dtype=np.int32)
        scores = bm25.score(term_ids, {term: (np.array(p), np.array(c)) for term, (p, c) in postings.items()}, lengths,
                            bm25.idfs(frequencies, self.state.chunks), self.state.total_length / self.state.chunks)  # fmt: skip
        if scores is None:
            return _empty()
        keep = scores > 0
        return ids[keep], scores[keep]

    def _scanned(self) -> _Postings:
        """The postings of every chunk of this snapshot, built once; rows read by an earlier view of
        the same table are not read again (rows never change)."""
        assert self.state is not None
        with self._scanning:
            if self._postings is None:
                name, end = self.state.tables["chunks"], self.state.next_chunk_id
                read, rows = self._caches.scanned.get(name, (0, {}))
                for start in range(read, end, BATCH_ROWS):
                    found = self._milvus.call("read pieces", self._milvus.client.query, name, output_fields=["id", *_RERANKED],
                                              filter=f"id >= {start} and id < {min(end, start + BATCH_ROWS)}", **self._reads())  # fmt: skip
                    rows.update((int(row["id"]), row) for row in found)
                self._caches.scanned[name] = (max(read, end), rows)
                self._postings = _Postings([rows[i] for i in sorted(rows) if int(rows[i]["dkey"]) in self._by_key])
            return self._postings

    def _remember(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Records never change once written (ids are never reused), so a cache of them stays true."""
        assert self.state is not None
        name = self.state.tables[table]
        key = "sentences" if table == "chunks" else "chunks"
        for row in rows:
            self._caches.records.put((name, int(row["id"])), (int(row["dkey"]), int(row["start"]), int(row["end"]), tuple(row[key]["ids"])))

    def _records(self, table: str, ids: Iterable[int]) -> dict[int, tuple[int, int, int, tuple[int, ...]]]:
        if self.state is None:
            return {}
        name = self.state.tables[table]
        wanted = [int(i) for i in ids]
        found = {i: self._caches.records.get((name, i)) for i in wanted}
        missing = [i for i, record in found.items() if record is None]
        if missing:
            fields = ["dkey", "start", "end", "sentences" if table == "chunks" else "chunks"]
            if table == "sentences":  # retrieval asks for their vectors next: one read for both
                missing = [i for i in wanted if found[i] is None or self._caches.vectors.get((name, i)) is None]
                fields.append("dense")
            rows = self._get(table, missing, fields)
            self._remember(table, rows)
            for row in rows if table == "sentences" else ():
                self._caches.vectors.put((name, int(row["id"])), np.asarray(row["dense"], dtype=np.float32))
            found.update({i: self._caches.records.get((name, i)) for i in missing})
        # a row of a document this snapshot does not hold (removed meanwhile) is left out
        return {i: record for i, record in found.items() if record is not None and record[0] in self._by_key}

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRecord]:
        return {i: ChunkRecord(i, self._by_key[dkey].stored.id, start, end, tuple(others))
                for i, (dkey, start, end, others) in self._records("chunks", ids).items()}  # fmt: skip

    def sentences(self, ids: Iterable[int]) -> dict[int, SentenceRecord]:
        return {i: SentenceRecord(i, self._by_key[dkey].stored.id, start, end, tuple(others))
                for i, (dkey, start, end, others) in self._records("sentences", ids).items()}  # fmt: skip

    def pieces(self, ids: Iterable[str]) -> dict[str, IndexedDocument]:
        """A query of each table by the document's key; a document of more pieces than one query
        returns (``MAX_LIMIT``) is left out (the caller embeds it again)."""
        state = self.state
        wanted = [self.docs[doc_id] for doc_id in ids if doc_id in self.docs]
        if state is None or not wanted:
            return {}
        texts = self.documents([doc.stored.id for doc in wanted])
        found = {}
        for doc in wanted:
            if max(doc.chunks, doc.sentences) > MAX_LIMIT:
                continue
            rows = [sorted(self._milvus.call("read pieces", self._milvus.client.query, state.tables[table], filter=f"dkey == {doc.dkey}",
                                             output_fields=fields, limit=MAX_LIMIT, **self._reads()), key=lambda row: int(row["id"]))
                    for table, fields in (("chunks", PIECE_FIELDS), ("sentences", SENTENCE_FIELDS))]  # fmt: skip
            if (len(rows[0]), len(rows[1])) == (doc.chunks, doc.sentences):
                found[doc.stored.id] = indexed_of(texts[doc.stored.id], doc, rows[0], rows[1], state.dimension)
        return found

    def sentence_vectors(self, ids: Sequence[int]) -> np.ndarray:
        if self.state is None:
            return np.zeros((len(ids), 0), dtype=np.float32)
        name = self.state.tables["sentences"]
        found = {int(i): self._caches.vectors.get((name, int(i))) for i in ids}
        missing = [i for i, vector in found.items() if vector is None]
        found.update({int(row["id"]): np.asarray(row["dense"], dtype=np.float32) for row in self._get("sentences", missing, ["dense"])})
        vectors = np.zeros((len(ids), self.state.dimension), dtype=np.float32)
        for position, sentence_id in enumerate(ids):
            if found[int(sentence_id)] is not None:
                vectors[position] = found[int(sentence_id)]
        return vectors

"""Ranking chunks for a question: dense, lexical, their fusion, and a sentence-level second stage.

Fusion is ranx's ``wsum`` with ``min-max`` normalisation (tests check it against ``ranx.fuse``),
written in numpy because it runs on every question. The lexical weight is scaled by how many
of the question's content words the corpus knows, so an English question whose only matches
are a few Latin names cannot outvote the dense ranking.

Retrieval reads the store through a ``StoreView`` and returns everything the answer needs (the
chunks, sentences and documents it ranked, and the closeness signals abstention uses), so the
answer stage never searches.
"""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from rag.config import RetrievalSettings
from rag.document import Document
from rag.lexical import normalize_for_matching, term_id
from rag.query import Query
from rag.store.base import ChunkRecord, SentenceRecord, StoreView

SHORTLIST = 20  # chunks re-scored by their sentences
MAX_QUERY_TERMS = 64  # bounds the lexical work of an overlong question
# The searches of one question run at once (``rank``); shared by every question of the process
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="retrieve")


@dataclass(frozen=True)
class Candidate:
    chunk_id: int
    score: float
    sentences: tuple[tuple[int, float], ...]  # (sentence id, score) inside the chunk, best first

    @property
    def sentence_id(self) -> int | None:
        return self.sentences[0][0] if self.sentences else None


@dataclass(frozen=True)
class Closeness:
    """How close the question's base-model vector comes to the articles: the best chunk anywhere,
    and the best sentence of the ranked passages. The base vector keeps one scale whether or not
    retrieval used the adapted query tower, whose cosines are spread differently."""

    top_chunk: float
    top_sentence: float


@dataclass(frozen=True)
class Ranking:
    query: Query
    candidates: list[Candidate]
    chunks: dict[int, ChunkRecord]
    sentences: dict[int, SentenceRecord]
    documents: dict[str, Document]
    closeness: Closeness
    known_terms: frozenset[int] = frozenset()  # the question's term ids that some chunk of the collection holds

    def text(self, record: ChunkRecord | SentenceRecord) -> str:
        return self.documents[record.doc_id].text[record.start : record.end]


def min_max(scores: np.ndarray) -> np.ndarray:
    if scores.size == 0:
        return scores
    low, high = float(scores.min()), float(scores.max())
    if high - low < 1e-12:
        return np.ones_like(scores)
    return (scores - low) / (high - low)


def fuse(runs: list[dict[int, float]], weights: list[float]) -> dict[int, float]:
    """Weighted sum of min-max normalised runs (a missing item counts 0), as ranx ``wsum``."""
    fused: dict[int, float] = {}
    for run, weight in zip(runs, weights, strict=True):
        if not run or weight == 0:
            continue
        ids = list(run)
        normalised = min_max(np.fromiter(run.values(), dtype=np.float64, count=len(run)))
        for item, value in zip(ids, normalised, strict=True):
            fused[item] = fused.get(item, 0.0) + weight * float(value)
    return fused


def _run(ids: np.ndarray, scores: np.ndarray) -> dict[int, float]:
    return dict(zip(ids.tolist(), scores.tolist(), strict=True))


def _sentence_run(view: StoreView, query: Query, depth: int, within: Collection[str] | None = None) -> dict[int, float]:
    """Chunks scored by their closest sentence: sharper than one vector for a whole chunk."""
    ((ids, scores),) = view.search_sentences(query.vector.reshape(1, -1), depth * 3, within=within)
    sentences = view.sentences(ids.tolist())
    run: dict[int, float] = {}
    for sentence_id, score in zip(ids.tolist(), scores.tolist(), strict=True):
        for chunk_id in sentences[sentence_id].chunk_ids:
            if chunk_id not in run:
                run[chunk_id] = float(score)
        if len(run) >= depth:
            break
    return run


def _lexical_run(view: StoreView, query: Query, depth: int, candidates: set[int], within: Collection[str] | None = None) -> dict[int, float]:
    """BM25's run: over the whole collection, or a re-ranking of the dense ``candidates`` where the
    store cannot find lexical matches by itself (``StoreView.lexical_recall``)."""
    terms = [term_id(token) for token in query.tokens[:MAX_QUERY_TERMS]]
    ids, scores = view.lexical_search(terms, depth, candidates if view.lexical_recall == "candidates" else (), within=within)
    return dict(zip(ids.tolist(), scores.tolist(), strict=True))


def _scored_sentences(chunk: ChunkRecord, vectors: np.ndarray, texts: list[str], query: Query,
                      overlap_weight: float) -> tuple[tuple[int, float], ...]:  # fmt: skip
    """The chunk's sentences by closeness to the question: cosine plus a share of word overlap."""
    if not chunk.sentence_ids:
        return ()
    scores = vectors @ query.vector
    if query.tokens:
        overlap = np.array([sum(token in text for token in query.tokens) / len(query.tokens) for text in texts])
        scores = scores + overlap_weight * overlap
    order = np.argsort(-scores, kind="stable")
    return tuple((chunk.sentence_ids[i], float(scores[i])) for i in order)


def rank(view: StoreView, query: Query, settings: RetrievalSettings, top_k: int, within: Collection[str] | None = None) -> Ranking:
    """The ``top_k`` best chunks for ``query`` under ``settings``, with what the answer needs; only
    chunks of the documents ``within`` when given (a question's filter, ``rag.query.Filter``), which
    every search applies itself, so ``top_k`` are found whenever those documents hold them. The
    searches that need nothing but the question run at once (on a Milvus server each is a round
    trip: their latencies overlap instead of adding up), the chunk search with both of the
    question's vectors in one request; then BM25 where it re-ranks their candidates; then the
    shortlist's sentences and documents, at once again."""
    depth = max(settings.candidates, top_k)
    terms = [term_id(token) for token in query.tokens[:MAX_QUERY_TERMS]]
    use_dense = settings.mode in ("dense", "hybrid")
    use_lexical = settings.mode in ("lexical", "hybrid")
    # the base vector measures closeness (``_closeness``): searched along when it is another vector
    queries = ([query.vector] if use_dense else []) + ([] if use_dense and query.base_vector is query.vector else [query.base_vector])
    known_soon = _POOL.submit(view.known_terms, terms)
    chunks_soon = _POOL.submit(view.search_chunks, np.stack(queries), depth if use_dense else 1, within=within)
    sentences_soon = _POOL.submit(_sentence_run, view, query, depth, within) if use_dense and settings.sentence_dense_weight else None
    rerank_only = view.lexical_recall == "candidates"
    lexical_soon = _POOL.submit(_lexical_run, view, query, depth, set(), within) if use_lexical and not rerank_only else None
    found = chunks_soon.result()
    dense = _run(*found[0]) if use_dense else {}
    sentences_run = sentences_soon.result() if sentences_soon else {}
    if lexical_soon is not None:
        lexical = lexical_soon.result()
    else:
        lexical = _lexical_run(view, query, depth, dense.keys() | sentences_run.keys(), within) if use_lexical else {}
    # share of the question's content words the corpus knows: scales the lexical run's weight
    known = known_soon.result()
    coverage = sum(term in known for term in terms) / len(terms) if terms else 0.0
    fused = fuse(
        [dense, sentences_run, lexical],
        [settings.dense_weight, settings.sentence_dense_weight, settings.lexical_weight * coverage if use_dense else 1.0],
    )
    ordered = sorted(fused, key=lambda chunk_id: -fused[chunk_id])
    shortlist = ordered[: max(top_k, SHORTLIST)] if settings.sentence_stage else ordered[:top_k]
    chunks = view.chunks(shortlist)
    sentence_ids = sorted({sid for chunk in chunks.values() for sid in chunk.sentence_ids})
    documents_soon = _POOL.submit(view.documents, {chunk.doc_id for chunk in chunks.values()})
    sentences = view.sentences(sentence_ids)
    documents = documents_soon.result()
    vectors = dict(zip(sentence_ids, view.sentence_vectors(sentence_ids), strict=True))
    matching = {sid: normalize_for_matching(documents[s.doc_id].text[s.start : s.end]) for sid, s in sentences.items()}
    scored = {
        chunk_id: _scored_sentences(
            chunks[chunk_id],
            np.array([vectors[sid] for sid in chunks[chunk_id].sentence_ids], dtype=np.float32).reshape(-1, len(query.vector)),
            [matching[sid] for sid in chunks[chunk_id].sentence_ids],
            query,
            settings.overlap_weight,
        )
        for chunk_id in shortlist
    }
    scores = {chunk_id: fused[chunk_id] for chunk_id in shortlist}
    if settings.sentence_stage and shortlist:
        sentence_scores = min_max(np.array([scored[c][0][1] if scored[c] else 0.0 for c in shortlist]))
        for chunk_id, value in zip(shortlist, sentence_scores, strict=True):
            scores[chunk_id] += settings.sentence_weight * float(value)
        shortlist.sort(key=lambda chunk_id: -scores[chunk_id])
    candidates = [Candidate(chunk_id, scores[chunk_id], scored[chunk_id]) for chunk_id in shortlist[:top_k]]
    closeness = _closeness(query, found[-1][1], candidates, vectors)
    return Ranking(query, candidates, chunks, sentences, documents, closeness, frozenset(known))


def _closeness(query: Query, base_scores: np.ndarray, candidates: list[Candidate], vectors: dict[int, np.ndarray]) -> Closeness:
    """``base_scores``: the chunk search's cosines for the base vector, best first."""
    top_chunk = float(base_scores[0]) if base_scores.size else 0.0
    ids = [sid for candidate in candidates for sid, _ in candidate.sentences]
    top_sentence = float((np.stack([vectors[sid] for sid in ids]) @ query.base_vector).max()) if ids else 0.0
    return Closeness(top_chunk, top_sentence)

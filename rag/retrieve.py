"""Ranking chunks for a question: dense, lexical, their fusion, and a sentence-level second stage.

Fusion is ranx's ``wsum`` with ``min-max`` normalisation (tests check it against ``ranx.fuse``),
written in numpy because it runs on every question. The lexical weight is scaled by how many
of the question's content words the corpus knows, so an English question whose only matches
are a few Latin names cannot outvote the dense ranking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.config import RetrievalSettings
from rag.index import Index
from rag.lexical import normalize_for_matching
from rag.vectors import search


@dataclass(frozen=True)
class Query:
    """A question ready for retrieval: its vector and lexical tokens."""

    text: str
    vector: np.ndarray
    tokens: list[str]


@dataclass(frozen=True)
class Candidate:
    chunk_id: int
    score: float
    dense: float  # cosine of question and chunk (0 when the chunk came from BM25 only)
    lexical: float  # BM25 score
    sentence_id: int | None  # best answering sentence inside the chunk
    sentence_score: float


@dataclass(frozen=True)
class Ranking:
    candidates: list[Candidate]
    coverage: float  # share of the question's content words found in the corpus vocabulary


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


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    k = min(k, scores.size)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


def _dense_run(index: Index, query: Query, depth: int) -> dict[int, float]:
    scores, ids = search(index.chunk_vectors, query.vector, depth)
    return dict(zip(ids.tolist(), scores.tolist(), strict=True))


def _lexical_run(index: Index, query: Query, depth: int) -> dict[int, float]:
    scores = index.lexical.scores(query.tokens)
    return {int(i): float(scores[i]) for i in _top(scores, depth) if scores[i] > 0}


def _best_sentence(index: Index, query: Query, chunk_id: int) -> tuple[int | None, float]:
    """The sentence of the chunk closest to the question (cosine plus a share of word overlap)."""
    sentence_ids = index.chunk_sentences(chunk_id)
    if not sentence_ids:
        return None, 0.0
    similarity = index.sentence_vectors[sentence_ids] @ query.vector
    if query.tokens:
        texts = [normalize_for_matching(_sentence_text(index, sid)) for sid in sentence_ids]
        overlap = np.array([sum(token in text for token in query.tokens) / len(query.tokens) for text in texts])
        similarity = similarity + 0.1 * overlap
    best = int(np.argmax(similarity))
    return sentence_ids[best], float(similarity[best])


def _sentence_text(index: Index, sentence_id: int) -> str:
    sentence = index.sentences[sentence_id]
    return index.documents[sentence.doc_id].text[sentence.start : sentence.end]


def rank(index: Index, query: Query, settings: RetrievalSettings, top_k: int) -> Ranking:
    """The ``top_k`` best chunks for ``query`` under ``settings``."""
    depth = max(settings.candidates, top_k)
    coverage = len(index.lexical.known(query.tokens)) / len(query.tokens) if query.tokens else 0.0
    dense = _dense_run(index, query, depth) if settings.mode in ("dense", "hybrid") else {}
    lexical = _lexical_run(index, query, depth) if settings.mode in ("lexical", "hybrid") else {}
    if settings.mode == "hybrid":
        fused = fuse([dense, lexical], [settings.dense_weight, settings.lexical_weight * coverage])
    else:
        fused = fuse([dense or lexical], [1.0])
    ordered = sorted(fused, key=lambda chunk_id: -fused[chunk_id])
    shortlist = ordered[: max(top_k, 20)] if settings.sentence_stage else ordered[:top_k]
    best = {chunk_id: _best_sentence(index, query, chunk_id) for chunk_id in shortlist}
    scores = {chunk_id: fused[chunk_id] for chunk_id in shortlist}
    if settings.sentence_stage and shortlist:
        sentence_scores = min_max(np.array([best[chunk_id][1] for chunk_id in shortlist]))
        for chunk_id, value in zip(shortlist, sentence_scores, strict=True):
            scores[chunk_id] += settings.sentence_weight * float(value)
        shortlist.sort(key=lambda chunk_id: -scores[chunk_id])
    candidates = [
        Candidate(
            chunk_id=chunk_id,
            score=scores[chunk_id],
            dense=dense.get(chunk_id, 0.0),
            lexical=lexical.get(chunk_id, 0.0),
            sentence_id=best[chunk_id][0],
            sentence_score=best[chunk_id][1],
        )
        for chunk_id in shortlist[:top_k]
    ]
    return Ranking(candidates, coverage)

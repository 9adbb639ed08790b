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
from rag.vectors import search


@dataclass(frozen=True)
class Query:
    """A question ready for retrieval: its vectors and lexical tokens."""

    text: str
    vector: np.ndarray  # what retrieval uses (the adapted query tower's, for Chinese questions)
    tokens: list[str]
    base_vector: np.ndarray  # the base model's, for the abstention features


@dataclass(frozen=True)
class Candidate:
    chunk_id: int
    score: float
    dense: float  # cosine of question and chunk (0 when the chunk came from BM25 only)
    lexical: float  # BM25 score
    sentences: tuple[tuple[int, float], ...]  # (sentence id, score) inside the chunk, best first

    @property
    def sentence_id(self) -> int | None:
        return self.sentences[0][0] if self.sentences else None

    @property
    def sentence_score(self) -> float:
        return self.sentences[0][1] if self.sentences else 0.0


@dataclass(frozen=True)
class Ranking:
    query: Query
    candidates: list[Candidate]


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


def _sentence_run(index: Index, query: Query, depth: int) -> dict[int, float]:
    """Chunks scored by their closest sentence: sharper than one vector for a whole chunk."""
    similarity = index.sentence_vectors @ query.vector
    run: dict[int, float] = {}
    for sid in _top(similarity, depth * 3):
        for chunk_id in index.sentence_chunks[sid]:
            if chunk_id not in run:
                run[chunk_id] = float(similarity[sid])
        if len(run) >= depth:
            break
    return run


def _lexical_run(index: Index, query: Query, depth: int) -> dict[int, float]:
    scores = index.lexical.scores(query.tokens)
    return {int(i): float(scores[i]) for i in _top(scores, depth) if scores[i] > 0}


def _scored_sentences(index: Index, query: Query, chunk_id: int, overlap_weight: float) -> tuple[tuple[int, float], ...]:
    """The chunk's sentences by closeness to the question: cosine plus a share of word overlap."""
    sentence_ids = index.chunk_sentences[chunk_id]
    if not sentence_ids:
        return ()
    scores = index.sentence_vectors[sentence_ids] @ query.vector
    if query.tokens:
        texts = [index.sentence_matching_text(sid) for sid in sentence_ids]
        overlap = np.array([sum(token in text for token in query.tokens) / len(query.tokens) for text in texts])
        scores = scores + overlap_weight * overlap
    order = np.argsort(-scores, kind="stable")
    return tuple((sentence_ids[i], float(scores[i])) for i in order)


def rank(index: Index, query: Query, settings: RetrievalSettings, top_k: int) -> Ranking:
    """The ``top_k`` best chunks for ``query`` under ``settings``."""
    depth = max(settings.candidates, top_k)
    # share of the question's content words the corpus knows: scales the lexical run's weight
    coverage = len(index.lexical.known(query.tokens)) / len(query.tokens) if query.tokens else 0.0
    use_dense = settings.mode in ("dense", "hybrid")
    dense = _dense_run(index, query, depth) if use_dense else {}
    sentences = _sentence_run(index, query, depth) if use_dense and settings.sentence_dense_weight else {}
    lexical = _lexical_run(index, query, depth) if settings.mode in ("lexical", "hybrid") else {}
    fused = fuse(
        [dense, sentences, lexical],
        [settings.dense_weight, settings.sentence_dense_weight, settings.lexical_weight * coverage if use_dense else 1.0],
    )
    ordered = sorted(fused, key=lambda chunk_id: -fused[chunk_id])
    shortlist = ordered[: max(top_k, 20)] if settings.sentence_stage else ordered[:top_k]
    scored = {chunk_id: _scored_sentences(index, query, chunk_id, settings.overlap_weight) for chunk_id in shortlist}
    scores = {chunk_id: fused[chunk_id] for chunk_id in shortlist}
    if settings.sentence_stage and shortlist:
        sentence_scores = min_max(np.array([scored[c][0][1] if scored[c] else 0.0 for c in shortlist]))
        for chunk_id, value in zip(shortlist, sentence_scores, strict=True):
            scores[chunk_id] += settings.sentence_weight * float(value)
        shortlist.sort(key=lambda chunk_id: -scores[chunk_id])
    candidates = [
        Candidate(
            chunk_id=chunk_id,
            score=scores[chunk_id],
            dense=dense.get(chunk_id, 0.0),
            lexical=lexical.get(chunk_id, 0.0),
            sentences=scored[chunk_id],
        )
        for chunk_id in shortlist[:top_k]
    ]
    return Ranking(query, candidates)

"""Nearest-neighbour search over normalised vectors with FAISS (inner product = cosine)."""

from __future__ import annotations

from typing import Literal

import faiss
import numpy as np

from rag.config import VectorIndexSettings

IndexKind = Literal["flat", "hnsw"]


def choose_kind(count: int, settings: VectorIndexSettings) -> IndexKind:
    """Exact search up to ``exact_max`` vectors, HNSW beyond (see the scale benchmark)."""
    return "flat" if count <= settings.exact_max else "hnsw"


def build_faiss_index(vectors: np.ndarray, settings: VectorIndexSettings) -> faiss.Index:
    dimension = vectors.shape[1]
    if choose_kind(len(vectors), settings) == "flat":
        index = faiss.IndexFlatIP(dimension)
    else:
        index = faiss.IndexHNSWFlat(dimension, settings.hnsw_neighbors, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.hnsw_build_depth
        index.hnsw.efSearch = settings.hnsw_search_depth
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def search(index: faiss.Index, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (scores, row ids) for one query vector; ids of -1 (fewer rows than k) dropped."""
    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]

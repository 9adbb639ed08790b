"""Vector search: exact while it is cheap, IVF-SQ8 beyond, both re-scored exactly and skipping deleted rows;
nprobe is given with each search, never stored in the index."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from rag.config import VectorIndexSettings
from rag.vectors import build_ivf, choose_kind, search_exact, search_ivf


def _vectors(count: int) -> np.ndarray:
    vectors = np.random.default_rng(0).normal(size=(count, 16)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_index_kind_is_chosen_by_size():
    settings = VectorIndexSettings(exact_max=100)
    assert choose_kind(100, settings) == "exact" and choose_kind(101, settings) == "ivf-sq8"


def test_exact_and_ivf_search_find_a_vector_and_skip_deleted_rows():
    vectors = _vectors(400)
    index = build_ivf(vectors, VectorIndexSettings(exact_max=100))
    assert index.nlist == int(4 * 20) and index.ntotal == 400
    for row in (7, 250):
        rows, scores = search_ivf(index, vectors, vectors[row], 5, None, 128)
        assert rows[0] == row and scores[0] == pytest.approx(1.0, abs=1e-5)  # re-scored exactly
        rows, _ = search_ivf(index, vectors, vectors[row], 5, np.array([row]), 128)
        assert row not in rows and len(rows) == 5
        rows, scores = search_exact(vectors, vectors[row], 3, None)
        assert rows[0] == row and scores[0] == pytest.approx(1.0, abs=1e-5)
        deleted = np.zeros(400, dtype=bool)
        deleted[row] = True
        rows, _ = search_exact(vectors, vectors[row], 3, deleted)
        assert row not in rows and len(rows) == 3


def test_nprobe_is_a_search_setting_not_part_of_the_ivf_index():
    vectors = _vectors(3000)
    built = [faiss.serialize_index(build_ivf(vectors, VectorIndexSettings(exact_max=100, ivf_probe=probe))) for probe in (1, 64)]
    assert np.array_equal(built[0], built[1])  # the same file whatever ivf_probe says
    index = build_ivf(vectors, VectorIndexSettings(exact_max=100))
    queries = _vectors(3100)[3000:]  # not among the indexed vectors
    exact = [set(search_exact(vectors, q, 10, None)[0].tolist()) for q in queries]

    def recall(nprobe: int) -> float:
        return float(np.mean([len(set(search_ivf(index, vectors, q, 10, None, nprobe)[0].tolist()) & e) / 10 for q, e in zip(queries, exact)]))

    assert recall(1) < 0.5 < recall(index.nlist) == 1.0  # each search probes the lists it is given


def test_an_ivf_search_restricted_to_some_rows_finds_only_them_and_as_many_as_asked():
    vectors = _vectors(400)
    index = build_ivf(vectors, VectorIndexSettings(exact_max=100))
    allowed = np.arange(100, 400, 3)  # 100 rows; row 7 is not among them
    rows, scores = search_ivf(index, vectors, vectors[7], 10, None, 128, allowed_rows=allowed)
    assert len(rows) == 10 and set(rows.tolist()) <= set(allowed.tolist())
    best = allowed[np.argsort(-(vectors[allowed] @ vectors[7]), kind="stable")[:10]]
    assert rows.tolist() == best.tolist()  # every list probed (128 ≥ 80): the exact best of the allowed rows

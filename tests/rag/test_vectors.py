"""Vector search: exact while it is cheap, IVF-SQ8 beyond, both re-scored exactly and skipping deleted rows."""

from __future__ import annotations

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
    assert index.nlist == int(4 * 20) and index.nprobe == 128 and index.ntotal == 400
    for row in (7, 250):
        rows, scores = search_ivf(index, vectors, vectors[row], 5, None)
        assert rows[0] == row and scores[0] == pytest.approx(1.0, abs=1e-5)  # re-scored exactly
        rows, _ = search_ivf(index, vectors, vectors[row], 5, np.array([row]))
        assert row not in rows and len(rows) == 5
        rows, scores = search_exact(vectors, vectors[row], 3, None)
        assert rows[0] == row and scores[0] == pytest.approx(1.0, abs=1e-5)
        deleted = np.zeros(400, dtype=bool)
        deleted[row] = True
        rows, _ = search_exact(vectors, vectors[row], 3, deleted)
        assert row not in rows and len(rows) == 3

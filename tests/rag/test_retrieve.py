"""Ranking: the fusion of the dense and lexical runs, by hand and against ranx."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from ranx import Run
from ranx import fuse as ranx_fuse

from rag.document import Document
from rag.query import Query
from rag.retrieve import fuse, min_max, rank
from rag.config import RetrievalSettings
from rag.store.base import ChunkRecord, SentenceRecord


def test_fusion_matches_ranx_wsum_with_min_max():
    dense = {1: 0.9, 2: 0.8, 3: 0.5}
    lexical = {3: 12.0, 4: 7.0, 2: 1.0}
    ours = fuse([dense, lexical], [0.3, 0.7])
    runs = [Run({"q": {f"d{k}": v for k, v in run.items()}}) for run in (dense, lexical)]
    theirs = ranx_fuse(runs, norm="min-max", method="wsum", params={"weights": [0.3, 0.7]}).to_dict()["q"]
    assert {f"d{k}": pytest.approx(v) for k, v in ours.items()} == theirs
    # by hand: d3 = 0.3*0 + 0.7*1, d1 = 0.3*1 + 0, d2 = 0.3*0.75 + 0, d4 = 0.7*(6/11)
    assert ours == pytest.approx({3: 0.7, 1: 0.3, 2: 0.225, 4: 0.7 * 6 / 11})


def test_min_max_scales_a_run_to_0_1_and_a_flat_run_to_ones():
    assert min_max(np.array([2.0, 4.0, 3.0])).tolist() == [0.0, 1.0, 0.5]
    assert min_max(np.array([7.0, 7.0])).tolist() == [1.0, 1.0]  # nothing to tell apart: each counts fully
    assert min_max(np.array([])).size == 0


def test_a_run_with_weight_zero_or_no_items_adds_nothing():
    # run 1 by hand: (0.5 - 0.1) / 0.4 = 1 and 0; the empty run and the weight-0 run add nothing
    assert fuse([{1: 0.5, 2: 0.1}, {}, {3: 9.0}], [1.0, 0.5, 0.0]) == {1: 1.0, 2: 0.0}


class _SlowServer:
    """A view as a remote store's: the first stage's three calls must be under way at once (each
    waits for the others at a barrier), and the chunk search gets both of the question's vectors."""

    lexical_recall = "candidates"

    def __init__(self) -> None:
        self.barrier = threading.Barrier(3, timeout=2)
        self.chunk_searches: list[int] = []

    def known_terms(self, term_ids):
        self.barrier.wait()
        return set(term_ids)

    def search_chunks(self, vectors, k, within=None):
        self.chunk_searches.append(len(vectors))
        self.barrier.wait()
        return [(np.array([7, 8]), np.array([0.9, 0.5], dtype=np.float32)) for _ in vectors]

    def search_sentences(self, vectors, k, within=None):
        self.barrier.wait()
        return [(np.array([70]), np.array([0.8], dtype=np.float32))]

    def sentences(self, ids):
        return {70: SentenceRecord(70, "a", 0, 4, (7,))} if 70 in ids else {}

    def lexical_search(self, term_ids, k, candidates=(), within=None):
        assert set(candidates) == {7, 8}  # a store that only re-ranks is given the dense candidates
        return np.array([8]), np.array([2.0], dtype=np.float32)

    def chunks(self, ids):
        return {i: ChunkRecord(i, "a", 0, 8, (70,)) for i in ids}

    def sentence_vectors(self, ids):
        return np.ones((len(ids), 4), dtype=np.float32) / 2

    def documents(self, ids):
        return {"a": Document(id="a", file="a.txt", title="a", script="zh-Hans", sha256="0", text="米拉辞职。奥特曼")}


def test_the_searches_that_need_only_the_question_run_at_once_and_both_vectors_in_one_request():
    vector, base = np.array([1.0, 0, 0, 0], dtype=np.float32), np.array([0, 1.0, 0, 0], dtype=np.float32)
    view = _SlowServer()
    ranking = rank(view, Query("米拉辞职了吗", "zh-Hans", vector, base, ("米拉", "辞职")), RetrievalSettings(), 2)  # type: ignore[arg-type]
    assert view.chunk_searches == [2] and {c.chunk_id for c in ranking.candidates} == {7, 8}
    assert ranking.closeness.top_chunk == pytest.approx(0.9)  # the base vector's best chunk, from the same request

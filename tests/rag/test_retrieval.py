"""Tokenisation, fusion, query expansion, vector search choices, and abstention."""

from __future__ import annotations

import threading

import faiss
import numpy as np
import pytest
from ranx import Run
from ranx import fuse as ranx_fuse

from rag.abstention import FEATURES, Abstainer
from rag.config import RetrievalSettings, VectorIndexSettings
from rag.corpus import Document
from rag.expand import english_to_chinese
from rag.lexical import tokenize
from rag.query import Query
from rag.retrieve import Candidate, Closeness, Ranking, fuse, rank
from rag.store.base import ChunkRecord, SentenceRecord
from rag.vectors import build_ivf, choose_kind, search_exact, search_ivf


def test_mixed_script_tokens_are_simplified_lowercased_and_content_only():
    tokens = tokenize("OpenAI首席技術官Mira Murati宣布離職了嗎?你好")
    assert "openai" in tokens and "mira" in tokens and "murati" in tokens
    assert "首席" in tokens or "首席技术官" in tokens  # Traditional folded to Simplified
    assert "离职" in tokens and "離職" not in tokens
    assert not {"了", "吗", "你好", "?"} & set(tokens)
    assert tokenize("ＧＰＴ－４ｏ 的 1500亿") == tokenize("GPT-4o 的 1500亿")


class Vocabulary:
    def __init__(self, words: set[str]) -> None:
        self.words = words

    def known(self, words: set[str]) -> set[str]:
        return words & self.words

    def name_translations(self, words: set[str]) -> dict[str, set[str]]:
        return {}


def test_each_dictionary_sense_links_words_on_its_own():
    vocabulary = Vocabulary({"摧毁", "员工"})
    assert "摧毁" in english_to_chinese("destroy", vocabulary)  # CC-CEDICT: /to destroy; to wreck/
    assert "摧毁" in english_to_chinese("wreck", vocabulary)
    assert "员工" in english_to_chinese("employees", vocabulary)  # "employees" → "employee"


def test_fusion_matches_ranx_wsum_with_min_max():
    dense = {1: 0.9, 2: 0.8, 3: 0.5}
    lexical = {3: 12.0, 4: 7.0, 2: 1.0}
    ours = fuse([dense, lexical], [0.3, 0.7])
    runs = [Run({"q": {f"d{k}": v for k, v in run.items()}}) for run in (dense, lexical)]
    theirs = ranx_fuse(runs, norm="min-max", method="wsum", params={"weights": [0.3, 0.7]}).to_dict()["q"]
    assert {f"d{k}": pytest.approx(v) for k, v in ours.items()} == theirs
    # by hand: d3 = 0.3*0 + 0.7*1, d1 = 0.3*1 + 0, d2 = 0.3*0.75 + 0, d4 = 0.7*(6/11)
    assert ours == pytest.approx({3: 0.7, 1: 0.3, 2: 0.225, 4: 0.7 * 6 / 11})


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


def test_offtopic_question_abstains_but_lists_closest_passages(news):
    answer = news.ask("红烧肉怎么做才好吃?", top_k=3)
    abstainer = Abstainer.load()
    assert answer.abstained and answer.text is None and answer.citations == []
    assert len(answer.passages) == 3 and answer.confidence < abstainer.threshold
    assert answer.reason == "None of the passages is close enough to the question to answer it."
    assert tuple(answer.features) == FEATURES  # what the decision was made on, for the eval harness
    assert abstainer.probability(answer.features) == pytest.approx(answer.confidence, abs=1e-4)


def test_abstention_says_which_kind_of_answer_the_passages_lack(news):
    answer = news.ask("陈信翰是哪一年出生的?", top_k=3)  # the articles never give his birth year
    assert answer.abstained and answer.reason == "The question asks for a year, and the closest passages give none."


def test_answerable_question_does_not_abstain(news):
    answer = news.ask("OpenAI预计年亏损多少?", top_k=5)
    assert not answer.abstained and "50亿" in answer.text and answer.reason is None


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

    def search_chunks(self, vectors, k):
        self.chunk_searches.append(len(vectors))
        self.barrier.wait()
        return [(np.array([7, 8]), np.array([0.9, 0.5], dtype=np.float32)) for _ in vectors]

    def search_sentences(self, vectors, k):
        self.barrier.wait()
        return [(np.array([70]), np.array([0.8], dtype=np.float32))]

    def sentences(self, ids):
        return {70: SentenceRecord(70, "a", 0, 4, (7,))} if 70 in ids else {}

    def lexical_search(self, term_ids, k, candidates=()):
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

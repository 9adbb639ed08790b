"""The sentence judge: which sentences it weighs (the top passages' sentences, lower ranks paying a
little), its features of a candidate by hand, its probability, its order, and its file. Built from
hand-made rankings (no model)."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest

from rag.answer_types import expected_type
from rag.document import Document
from rag.judge import FEATURES, Candidate, Judge, candidate_features, candidate_sentences, judged_sentences
from rag.query import Query
from rag.reader import Reading
from rag.retrieve import Candidate as Passage
from rag.retrieve import Closeness, Ranking
from rag.store.base import ChunkRecord, SentenceRecord

TEXT = "台积电扩建晶圆厂\n台积电宣布扩建晶圆厂。公司将在2025年建成三座新厂,投资约400亿美元"
#       0       8 9          20                                   47


def _passages(*sentence_scores: list[tuple[int, float]]) -> Ranking:
    query = Query("?", "zh-Hans", np.zeros(2, dtype=np.float32), np.zeros(2, dtype=np.float32), ())
    candidates = [Passage(i, 1.0, tuple(scored)) for i, scored in enumerate(sentence_scores)]
    return Ranking(query, candidates, {}, {}, {}, Closeness(0.0, 0.0))


def test_the_candidates_are_the_top_passages_sentences_lower_ranks_paying_a_little():
    # passage 3's sentence is clearly closer: first; passage 1's follows, then passage 2's
    found = candidate_sentences(_passages([(10, 0.40)], [(20, 0.38)], [(30, 0.45)]), passages=5, rank_penalty=0.01)
    assert [(c.rank, c.sentence_id) for c in found] == [(3, 30), (1, 10), (2, 20)]
    assert found[0].score == pytest.approx(0.45 - 2 * 0.01)
    # a near tie goes to the higher passage: 0.405 - 2 × 0.01 < 0.40
    assert candidate_sentences(_passages([(10, 0.40)], [(20, 0.30)], [(30, 0.405)]), 5, 0.01)[0].sentence_id == 10
    # passages beyond ``passages`` are not weighed; a sentence in two overlapping passages counts once, in the higher
    lower = _passages([(10, 0.40)], [(20, 0.30), (10, 0.40)], [(60, 0.90)])
    assert [(c.rank, c.sentence_id) for c in candidate_sentences(lower, passages=2, rank_penalty=0.01)] == [(1, 10), (2, 20)]


def _ranking(question: str) -> Ranking:
    document = Document("d", "d.txt", "台积电扩建晶圆厂", "zh-Hans", "0", TEXT)
    sentences = {0: SentenceRecord(0, "d", 0, 8, (0,)), 1: SentenceRecord(1, "d", 9, 20, (0,)), 2: SentenceRecord(2, "d", 20, 47, (0,))}
    chunks = {0: ChunkRecord(0, "d", 0, 47, (0, 1, 2))}
    query = Query(question, "zh-Hans", np.zeros(2, np.float32), np.zeros(2, np.float32), ())
    return Ranking(query, [Passage(0, 1.0, ((1, 0.9), (0, 0.8), (2, 0.7)))], chunks, sentences, {"d": document}, Closeness(0.9, 0.9))


def test_the_features_of_each_candidate_by_hand():
    question = "台积电哪一年建成新厂?"
    ranking = _ranking(question)
    candidates = [Candidate(1, 1, 0.9), Candidate(0, 1, 0.8), Candidate(2, 2, 0.7)]
    rows = candidate_features(ranking, candidates, {2: Reading(5, 10, 0.6, 0.25)}, expected_type(question))
    assert [list(row) for row in rows] == [list(FEATURES)] * 3
    headline, title, answer = rows[1], rows[0], rows[2]
    assert [row["score_gap"] for row in rows] == pytest.approx([0.0, -0.1, -0.2])
    assert answer["passage_rank"] == pytest.approx(math.log(2)) and headline["passage_rank"] == 0.0
    assert (answer["read"], answer["reader_answers"], answer["reader_span"]) == (1.0, 0.75, 0.6)
    assert (title["read"], title["reader_answers"], title["reader_span"]) == (0.0, 0.0, 0.0)
    assert answer["holds_type"] == answer["new_value"] == 1.0 and title["holds_type"] == 0.0  # "2025年": a year the question lacks
    assert headline["title"] == 1.0 and title["title"] == 0.0  # its own line: a headline
    assert answer["short"] == 1.0 and title["short"] == 1.0  # no closing mark; under 20 characters


def test_the_judge_orders_by_its_probability_and_without_a_model_keeps_retrievals_order():
    ranking = _ranking("台积电哪一年建成新厂?")
    candidates = candidate_sentences(ranking, passages=5, rank_penalty=0.01)
    kind = expected_type(ranking.query.text)
    plain = judged_sentences(ranking, candidates, {}, kind, Judge.retrieval_only())
    assert [j.sentence_id for j in plain] == [1, 0, 2]  # by the score gap alone
    typed = Judge(tuple(3.0 if name == "holds_type" else 1.0 if name == "score_gap" else 0.0 for name in FEATURES), -1.0)
    judged = judged_sentences(ranking, candidates, {}, kind, typed)
    assert judged[0].sentence_id == 2 and judged[0].text == TEXT[20:47] and (judged[0].start, judged[0].end) == (20, 47)
    # z = −1 + 1·(−0.2) + 3·1 = 1.8
    assert judged[0].probability == pytest.approx(1 / (1 + math.exp(-1.8)))


def test_a_saved_judge_loads_as_it_was_and_one_fitted_on_other_features_is_not_used(tmp_path, caplog):
    path = tmp_path / "judge.json"
    saved = Judge(tuple(0.25 * n for n in range(len(FEATURES))), -0.5)
    saved.save(path)
    assert Judge.load(path) == saved
    assert Judge.load(tmp_path / "missing.json") == Judge.retrieval_only()
    path.write_text(json.dumps({"features": ["score_gap"], "weights": [1.0], "bias": 0.0}))
    with caplog.at_level(logging.WARNING, logger="rag"):
        assert Judge.load(path) == Judge.retrieval_only()
    (record,) = caplog.records
    assert record.name == "rag.judge" and "rag-eval fit-judge" in record.getMessage()

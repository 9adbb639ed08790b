"""The reader's re-ranking of the top passages, against scores computed by hand."""

import numpy as np

from rag.config import RetrievalSettings
from rag.query import Query
from rag.reader import Reading
from rag.retrieve import Candidate, Closeness, Ranking
from rag.rerank import read_sentence_ids, rerank


def _ranking(*candidates: Candidate) -> Ranking:
    query = Query("谁是首席技术官?", "zh-Hans", np.zeros(2, np.float32), np.zeros(2, np.float32), ())
    return Ranking(query, list(candidates), {}, {}, {}, Closeness(0.9, 0.9))


RANKING = _ranking(
    Candidate(10, 0.90, ((100, 0.8), (101, 0.5))),
    Candidate(11, 0.85, ((110, 0.7),)),
    Candidate(12, 0.80, ((100, 0.6),)),  # overlapping chunks: the same best sentence as the first
    Candidate(13, 0.70, ()),  # no sentence: nothing to read
    Candidate(14, 0.60, ((140, 0.9),)),
)
READINGS = {100: Reading(0, 2, 0.5, 0.9), 110: Reading(0, 3, 0.8, 0.2), 140: Reading(0, 1, 0.4, 0.5)}


def test_the_reader_reads_each_top_passages_best_sentence_once_then_the_best_scored_sentences():
    assert read_sentence_ids(RANKING, RetrievalSettings(reader_passages=5, answer_read=0)) == [100, 110, 140]
    assert read_sentence_ids(RANKING, RetrievalSettings(reader_passages=2, answer_read=0)) == [100, 110]
    # by retrieval score less 0.01 per passage rank: 140 (0.9 − 0.04), 100 (0.8), 110 (0.69), 101 (0.5)
    assert read_sentence_ids(RANKING, RetrievalSettings(reader_passages=2, answer_read=4)) == [100, 110, 140, 101]


def test_top_passages_move_by_the_weighted_chance_their_sentence_answers():
    settings = RetrievalSettings(reader_passages=4, answer_passages=4, reader_rerank_weight=0.5)
    ranked = rerank(RANKING, READINGS, settings)
    # by hand: 10 → 0.90 + 0.5·0.1 = 0.95; 11 → 0.85 + 0.5·0.8 = 1.25; 12 → 0.80 + 0.05 = 0.85;
    # 13 → 0.70 (nothing read); 14 sits below the four re-scored and keeps 0.60
    assert [(c.chunk_id, round(c.score, 4)) for c in ranked.candidates] == [
        (11, 1.25), (10, 0.95), (12, 0.85), (13, 0.70), (14, 0.60),
    ]  # fmt: skip
    assert ranked.candidates[0].sentences == ((110, 0.7),)  # a candidate moves whole


def test_weight_zero_keeps_retrievals_order_and_scores():
    ranked = rerank(RANKING, READINGS, RetrievalSettings(reader_rerank_weight=0.0))
    assert ranked.candidates == RANKING.candidates

"""The answer's sentences, text and citations, built from hand-made rankings (no model)."""

from __future__ import annotations

import numpy as np

from rag.abstention import Abstainer
from rag.answer import Citation, answer_sentences, answer_text, assemble
from rag.config import RetrievalSettings
from rag.document import Document
from rag.query import Query
from rag.retrieve import Candidate, Closeness, Ranking
from rag.store.base import ChunkRecord, SentenceRecord

TEXT = "奥特曼宣布了消息。穆拉蒂将离开公司。\n她在公司工作了六年半。"
#       0        9 10     18 19        30


def _ranking(sentence_scores: list[tuple[int, float]]) -> Ranking:
    document = Document("d", "d.txt", "t", "zh-Hans", "0", TEXT)
    sentences = {0: SentenceRecord(0, "d", 0, 9, (0,)), 1: SentenceRecord(1, "d", 9, 18, (0,)), 2: SentenceRecord(2, "d", 19, 30, (0,))}
    chunks = {0: ChunkRecord(0, "d", 0, 30, (0, 1, 2))}
    query = Query("穆拉蒂什么时候离开?", "zh-Hans", np.zeros(2, np.float32), np.zeros(2, np.float32), ())
    return Ranking(query, [Candidate(0, 1.0, tuple(sentence_scores))], chunks, sentences, {"d": document}, Closeness(0.9, 0.9))


def test_adjacent_cited_sentences_read_as_one_stretch_and_others_are_joined():
    ranking = _ranking([])
    adjacent = [Citation(1, "d", 0, 9, 0, 9), Citation(1, "d", 9, 18, 9, 18)]
    assert answer_text(ranking, adjacent) == "奥特曼宣布了消息。穆拉蒂将离开公司。"
    apart = [Citation(1, "d", 0, 9, 0, 9), Citation(1, "d", 19, 30, 19, 30)]
    assert answer_text(ranking, apart) == "奥特曼宣布了消息。 … 她在公司工作了六年半。"


def test_the_answer_cites_exact_offsets_and_marks_the_passage():
    answer = assemble(_ranking([(1, 0.9), (0, 0.5), (2, 0.4)]), RetrievalSettings(), Abstainer.never())
    assert not answer.abstained and answer.text == "穆拉蒂将离开公司。"
    (citation,) = answer.citations
    assert (citation.start, citation.end, citation.passage_start, citation.passage_end) == (9, 18, 9, 18)
    (passage,) = answer.passages
    assert passage.text == TEXT and passage.highlight == (9, 18) and passage.title == "t"


def _asking(question: str, ranking: Ranking) -> Ranking:
    query = Query(question, "zh-Hans", ranking.query.vector, ranking.query.base_vector, ())
    return Ranking(query, ranking.candidates, ranking.chunks, ranking.sentences, ranking.documents, ranking.closeness)


def test_a_question_asking_for_a_year_abstains_when_the_answer_has_none():
    settings = RetrievalSettings()
    strict = Abstainer(weights=(0.0, 0.0, -5.0), bias=1.0)  # only the answer type decides
    assert not assemble(_asking("穆拉蒂做了什么?", _ranking([(1, 0.9)])), settings, strict).abstained
    answer = assemble(_asking("穆拉蒂哪一年离开?", _ranking([(1, 0.9)])), settings, strict)
    assert answer.abstained and answer.text is None and answer.citations == []
    assert answer.reason == "The question asks for a year, and the closest passages give none."
    assert answer.features == {"top_dense": 0.9, "top_sentence": 0.9, "answer_type_mismatch": 1.0}
    assert len(answer.passages) == 1  # the closest passage is still shown


def test_the_same_words_in_two_articles_are_cited_once():
    twin = Document("e", "e.txt", "t2", "zh-Hans", "1", "穆拉蒂将离开公司。")
    ranking = _ranking([(1, 0.9)])
    sentences = ranking.sentences | {3: SentenceRecord(3, "e", 0, 9, (1,))}
    chunks = ranking.chunks | {1: ChunkRecord(1, "e", 0, 9, (3,))}
    candidates = [*ranking.candidates, Candidate(1, 0.9, ((3, 0.9),))]
    twins = Ranking(ranking.query, candidates, chunks, sentences, ranking.documents | {"e": twin}, ranking.closeness)
    answer = assemble(twins, RetrievalSettings(), Abstainer.never())
    assert answer.text == "穆拉蒂将离开公司。" and len(answer.citations) == 1  # not "穆拉蒂将离开公司。 … 穆拉蒂将离开公司。"


def test_a_confident_reading_of_the_cited_sentence_is_the_span_with_document_offsets():
    from rag.reader import Reading

    ranking = _ranking([(1, 0.9), (0, 0.5)])
    answer = assemble(ranking, RetrievalSettings(span_min_score=0.3), Abstainer.never(), {1: Reading(0, 3, 0.8, 0.1), 0: Reading(0, 2, 0.9, 0.1)})
    assert answer.span is not None and answer.span.text == "穆拉蒂" and (answer.span.start, answer.span.end) == (9, 12)
    assert TEXT[answer.span.start : answer.span.end] == answer.span.text and answer.span.score == round(0.8 * 0.9, 4)
    unsure = assemble(ranking, RetrievalSettings(span_min_score=0.3), Abstainer.never(), {1: Reading(0, 3, 0.2, 0.1)})
    refused = assemble(ranking, RetrievalSettings(span_min_score=0.3), Abstainer.never(), {1: Reading(0, 3, 0.9, 0.7)})
    assert unsure.span is None and refused.span is None and unsure.text == refused.text == "穆拉蒂将离开公司。"


def _passages(*sentence_scores: list[tuple[int, float]]) -> Ranking:
    query = Query("?", "zh-Hans", np.zeros(2, dtype=np.float32), np.zeros(2, dtype=np.float32), ())
    candidates = [Candidate(i, 1.0, tuple(scored)) for i, scored in enumerate(sentence_scores)]
    return Ranking(query, candidates, {}, {}, {}, Closeness(0.0, 0.0))


def test_answer_sentence_comes_from_any_top_passage_lower_ranks_paying_a_little():
    settings = RetrievalSettings(answer_passages=5, answer_rank_penalty=0.01, second_sentence_margin=0.03)
    # passage 3's sentence is clearly closer: it is the answer, passage 1's follows within the margin
    assert answer_sentences(_passages([(10, 0.40)], [(20, 0.38)], [(30, 0.45)]), settings) == [(3, 30), (1, 10)]
    # a near tie goes to the higher passage: 0.405 - 2 × 0.01 < 0.40
    assert answer_sentences(_passages([(10, 0.40)], [(20, 0.30)], [(30, 0.405)]), settings)[0] == (1, 10)
    # passages beyond answer_passages are not read; the runner-up is dropped when too far behind
    lower = _passages([(10, 0.40)], [(20, 0.30)], [(30, 0.30)], [(40, 0.30)], [(50, 0.30)], [(60, 0.90)])
    assert answer_sentences(lower, settings) == [(1, 10)]

"""Metrics: chunk-independent relevance, ranx wiring, abstention and span scores (hand-computed)."""

from __future__ import annotations

import pytest

from rag_eval.gold import Evidence, GoldQuestion, Span
from rag_eval.metrics import QuestionResult, covered_evidence, covers, ranked_run, retrieval_scores, time_scores


def result(qid: str, covered: tuple[tuple[str, ...], ...]) -> QuestionResult:
    return QuestionResult(qid, covered, False, False, False, {}, 1.0)


def test_metrics_on_a_toy_run_match_hand_computed_values():
    questions = [
        GoldQuestion("q1", "?", "zh-Hans", "number", False, "x", (Evidence("d", 0, 10),)),
        GoldQuestion("q2", "?", "en", "date", True, "y", (Evidence("d", 20, 30), Evidence("d", 40, 50))),
        GoldQuestion("q3", "?", "en", "unanswerable", False, None, ()),
    ]
    results = {
        "q1": result("q1", ((), ("e0",))),  # relevant at rank 2
        "q2": result("q2", (("e1",), (), (), ("e0",))),  # ranks 1 and 4
        "q3": result("q3", ((),)),
    }
    scores = retrieval_scores(questions, results)
    assert scores["questions"] == 2  # unanswerable questions are not in retrieval metrics
    assert scores["mrr@10"] == pytest.approx((1 / 2 + 1) / 2)
    assert scores["recall@1"] == pytest.approx((0 + 0.5) / 2)
    assert scores["recall@5"] == pytest.approx((1 + 1) / 2)
    ndcg_q2 = (1 + 1 / 2.321928) / (1 + 1 / 1.584963)  # log2(5) = 2.32, log2(3) = 1.58
    assert scores["ndcg@10"] == pytest.approx((1 / 1.584963 + ndcg_q2) / 2, abs=1e-4)


def test_one_passage_covering_two_evidence_spans_finds_both():
    question = GoldQuestion("q", "?", "zh-Hans", "why", False, "x", (Evidence("d", 0, 10), Evidence("d", 20, 30)))
    covered = covered_evidence([("d", 100, 200), ("d", 0, 40)], question.evidence)
    assert covered == ((), ("e0", "e1"))
    scores = retrieval_scores([question], {"q": result("q", covered)})
    assert scores["recall@1"] == 0 and scores["recall@5"] == 1 and scores["mrr@10"] == 0.5


def test_a_place_stating_the_same_fact_elsewhere_counts_as_the_evidence():
    evidence = Evidence("doc", 100, 140, also=(Span("other", 10, 30),))
    assert covers("other", 0, 25, evidence)  # 15 of the 20 characters of the other place
    assert not covers("other", 25, 100, evidence)
    assert covered_evidence([("other", 0, 50), ("doc", 0, 400)], [evidence]) == (("e0",), ("e0",))
    assert ranked_run((("e0",), ("e0",))) == {"e0": 1.0, "miss-2": 0.5}  # found once, at rank 1


def test_relevance_is_overlap_with_evidence_not_chunk_identity():
    evidence = Evidence("doc", 100, 140)
    assert covers("doc", 90, 130, evidence)  # 30 of 40 characters
    assert covers("doc", 120, 300, evidence)  # exactly half
    assert not covers("doc", 125, 300, evidence)  # a quarter
    assert not covers("other", 0, 1000, evidence)
    small, large = [("doc", 0, 110), ("doc", 95, 150)], [("doc", 0, 400)]
    assert ranked_run(covered_evidence(small, [evidence])) == {"miss-1": 1.0, "e0": 0.5}
    assert ranked_run(covered_evidence(large, [evidence])) == {"e0": 1.0}  # same gold, other chunking
    assert ranked_run(covered_evidence([("doc", 95, 150), ("doc", 100, 141)], [evidence])) == {"e0": 1.0, "miss-2": 0.5}


def test_span_scores_count_shown_spans_and_those_inside_evidence():
    from rag_eval.metrics import abstention_scores

    questions = [GoldQuestion(f"q{i}", "?", "en", "x", False, "a", (Evidence("d", 0, 10),)) for i in range(3)]
    results = {q.id: QuestionResult(q.id, (), False, True, True, {}, 1.0, 1.0, inside) for q, inside in zip(questions, (True, False, None), strict=True)}
    scores = abstention_scores(questions, results)
    assert scores["span_shown"] == round(2 / 3, 4) and scores["span_inside_evidence"] == 0.5


def test_time_scores_count_the_right_period_first_in_retrieval_and_in_the_answers_own_sentence():
    def timed(qid: str) -> GoldQuestion:
        return GoldQuestion(qid, "?", "zh-Hans", "person", False, "x", (Evidence("d", 0, 10), Evidence("d", 20, 30)), time="current")

    questions = [timed("q1"), timed("q2"), timed("q3"), GoldQuestion("q4", "?", "en", "why", False, "y", (Evidence("d", 0, 10),))]
    results = {
        "q1": QuestionResult("q1", (("e0",), ("e1",)), False, True, True, {}, 1.0, first_sentence_evidence=("e0",)),
        "q2": QuestionResult("q2", ((), ("e1",), ("e0",)), False, True, True, {}, 1.0, first_sentence_evidence=("e0",)),  # e1 first
        "q3": QuestionResult("q3", (("e0", "e1"),), False, True, True, {}, 1.0, first_sentence_evidence=("e1",)),  # the older holder
        "q4": result("q4", ((),)),  # asks about no time: not counted
    }
    assert time_scores(questions, results) == {"time_questions": 3, "right_period_first": round(2 / 3, 4),
                                                "answer_in_right_period": round(2 / 3, 4)}  # fmt: skip


def test_a_span_is_scored_against_the_gold_answer_in_one_script_and_none_counts_zero():
    from rag_eval.metrics import quotes, span_answer

    assert span_answer("陈建任", "陳建任") == (1.0, 1.0)  # Traditional answer, Simplified span
    f1, exact = span_answer("陈建任曾任联亚光电董事长", "陈建任")  # 3 of 12 characters: P 1/4, R 1
    assert exact == 0.0 and f1 == pytest.approx(2 * 0.25 * 1 / 1.25)
    assert span_answer(None, "陈建任") == (0.0, 0.0)
    assert quotes(["父親陳建任曾任聯亞光電董事長。"], "陈建任") and not quotes(["父亲陈建任"], "Chen Jianren") and not quotes(["x"], None)


def test_span_answer_scores_average_over_questions_whose_evidence_quotes_the_answer():
    from rag_eval.metrics import abstention_scores

    questions = [GoldQuestion(f"q{i}", "?", "zh-Hans", "x", False, "a", (Evidence("d", 0, 10),)) for i in range(3)]
    against = ((1.0, 1.0), (0.5, 0.0), None)  # q2's evidence does not quote its answer: not counted
    results = {q.id: QuestionResult(q.id, (), False, True, True, {}, 1.0, span_answer=a) for q, a in zip(questions, against, strict=True)}
    scores = abstention_scores(questions, results)
    assert scores["span_f1"] == 0.75 and scores["span_exact"] == 0.5

"""Fitting the abstention threshold and the confidence model on dev, and how well the features separate
the questions."""

from __future__ import annotations

import pytest

from rag.abstention import FEATURES, Abstainer, Logistic
from rag_eval.fitting import fit_abstention, separation
from rag_eval.gold import Evidence, GoldQuestion
from rag_eval.metrics import QuestionResult


def features(closeness: float) -> dict[str, float]:
    return dict.fromkeys(FEATURES, 0.0) | {"top_dense": closeness, "top_sentence": closeness}


def test_abstention_threshold_has_the_best_dev_f1_within_the_false_abstention_budget():
    ids = (f"q{n}" for n in range(10_000))
    dev_ids = [qid for qid in ids if GoldQuestion(qid, "?", "en", "x", False, None, ()).split == "dev"]
    closeness = [0.80, 0.81] + [0.85 + 0.001 * n for n in range(68)]  # answerable: 70, so 2 may be wrong
    closeness_unanswerable = [0.70] * 5 + [0.805] * 3 + [0.90] * 2
    questions, results = [], {}
    for qid, top in zip(dev_ids, closeness + closeness_unanswerable, strict=False):
        answerable = len(questions) < len(closeness)
        questions.append(GoldQuestion(qid, "?", "en", "x", False, None, (Evidence("d", 0, 1),) if answerable else ()))
        results[qid] = QuestionResult(qid, (), False, False, False, features(top), 1.0)
    abstainer = fit_abstention(results, questions)
    abstains = {q.id: abstainer.abstains(results[q.id].features) for q in questions}
    # one wrong abstention (0.80) catches three more unanswerable questions (0.805); a second would catch none
    assert [abstains[q.id] for q in questions[:3]] == [True, False, False]
    assert sum(abstains[q.id] for q in questions if not q.answerable) == 8


def test_the_threshold_sits_in_the_middle_of_the_gap_it_decides_in():
    ids = (f"q{n}" for n in range(10_000))
    dev_ids = [qid for qid in ids if GoldQuestion(qid, "?", "en", "x", False, None, ()).split == "dev"]
    closeness = [0.80 + 0.002 * n for n in range(40)] + [0.70, 0.72]  # 40 answerable, 2 unanswerable far below
    questions, results = [], {}
    for qid, top in zip(dev_ids, closeness, strict=False):
        answerable = len(questions) < 40
        questions.append(GoldQuestion(qid, "?", "en", "x", False, None, (Evidence("d", 0, 1),) if answerable else ()))
        results[qid] = QuestionResult(qid, (), False, False, False, features(top), 1.0)
    abstainer = fit_abstention(results, questions)
    probabilities = sorted(abstainer.answerable.probability(results[q.id].features) for q in questions)
    lowest_kept = probabilities[2]  # the unanswerable pair is caught, every answerable question kept
    assert probabilities[1] < abstainer.threshold < lowest_kept
    assert abstainer.threshold == pytest.approx((probabilities[1] + lowest_kept) / 2, abs=1e-6)


def test_separation_reports_how_well_features_split_answerable_from_unanswerable():
    def question(qid: str, answerable: bool, topic: str | None = None) -> GoldQuestion:
        evidence = (Evidence("d", 0, 10),) if answerable else ()
        return GoldQuestion(qid, "?", "en", "date", False, None, evidence, topic)

    def scored(qid: str, top: float, mismatch: float, confidence: float) -> QuestionResult:
        features = dict.fromkeys(FEATURES, 0.0) | {"top_dense": top, "top_sentence": top, "answer_type_mismatch": mismatch}
        return QuestionResult(qid, (), False, False, False, features, 1.0, confidence)

    questions = [question("a1", True), question("a2", True), question("on", False, "on"), question("off", False, "off")]
    results = {
        "a1": scored("a1", 0.90, 0.0, 0.9),
        "a2": scored("a2", 0.88, 0.0, 0.8),
        "on": scored("on", 0.89, 1.0, 0.85),  # as close as the answerable ones, but lacks the asked type
        "off": scored("off", 0.80, 0.0, 0.1),
    }
    weights = tuple({"top_dense": 1.0, "top_sentence": 1.0, "answer_type_mismatch": -2.0}.get(name, 0.0) for name in FEATURES)
    table = separation(questions, results, Abstainer(Logistic(weights, 0.0), 0.5, Logistic(weights, 0.0)))
    assert table["top_dense"] == {"on_topic": 0.5, "off_topic": 1.0}
    assert table["answer_type_mismatch"] == {"on_topic": 1.0, "off_topic": 0.5}  # turned: a mismatch means "no"
    assert table["confidence"] == {"on_topic": 0.5, "off_topic": 1.0}


def test_the_confidence_model_learns_which_answers_hold_the_evidence():
    ids = (f"q{n}" for n in range(10_000))
    dev_ids = [qid for qid in ids if GoldQuestion(qid, "?", "en", "x", False, None, ()).split == "dev"][:60]
    questions, results = [], {}
    for number, qid in enumerate(dev_ids):
        judged = number % 10 / 10  # the judge's P(the sentence holds the answer), 0.0 to 0.9
        right = number % 10 >= 5  # and the answers it rates 0.5 or more are the right ones
        questions.append(GoldQuestion(qid, "?", "en", "x", False, None, (Evidence("d", 0, 1),)))
        results[qid] = QuestionResult(qid, (), False, right, False, features(0.9) | {"judged": judged}, 1.0, first_sentence_holds_evidence=right)
    correct = fit_abstention(results, questions).correct
    assert correct.probability(features(0.9) | {"judged": 0.9}) > 0.75 > 0.25 > correct.probability(features(0.9) | {"judged": 0.1})

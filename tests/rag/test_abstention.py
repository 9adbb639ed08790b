"""The abstention and confidence models: a logistic of the features, hand-computed; the threshold;
their file; a model fitted on other features is not used, and the warning says how to refit it. On
the seed articles: unrelated questions abstain, with the reason, and answerable ones do not."""

from __future__ import annotations

import json
import logging
import math

import pytest

from rag.abstention import FEATURES, Abstainer, Logistic


def test_the_probability_is_the_logistic_of_the_weighted_features():
    model = Logistic(tuple({"top_dense": 2.0, "top_sentence": 1.0, "answer_type_mismatch": -3.0}.get(name, 0.0) for name in FEATURES), -1.0)
    features = dict.fromkeys(FEATURES, 5.0) | {"top_dense": 0.5, "top_sentence": 1.0, "answer_type_mismatch": 1.0}
    # z = -1 + 2·0.5 + 1·1 - 3·1 = -2 (the other features weigh 0), and 1 / (1 + e²) = 0.1192
    assert model.probability(features) == pytest.approx(1 / (1 + math.exp(2)))


def test_it_abstains_when_the_answerable_model_is_below_the_threshold_whatever_the_confidence_model_says():
    answerable = Logistic(tuple(1.0 if name == "top_dense" else 0.0 for name in FEATURES), 0.0)
    certain = Logistic((0.0,) * len(FEATURES), 50.0)
    abstainer = Abstainer(answerable, 0.6, certain)
    low, high = dict.fromkeys(FEATURES, 0.0), dict.fromkeys(FEATURES, 0.0) | {"top_dense": 1.0}
    assert abstainer.abstains(low) and not abstainer.abstains(high)  # P = 0.5 and 0.73 against 0.6


def test_never_abstains_on_any_features_and_is_certain():
    never = Abstainer.never()
    for value in (0.0, 1.0):
        features = dict.fromkeys(FEATURES, value)
        assert not never.abstains(features) and never.correct.probability(features) > 0.99


def test_a_saved_model_loads_as_it_was(tmp_path):
    path = tmp_path / "abstention.json"
    weights = tuple(0.125 * n - 0.5 for n in range(len(FEATURES)))
    saved = Abstainer(Logistic(weights, 0.125), 0.4, Logistic(tuple(reversed(weights)), -0.25))
    saved.save(path)
    assert Abstainer.load(path) == saved
    assert Abstainer.load(tmp_path / "missing.json") == Abstainer.never()


def test_a_model_fitted_on_other_features_is_not_used_and_a_warning_says_how_to_refit(tmp_path, caplog):
    path = tmp_path / "abstention.json"
    path.write_text(json.dumps({"features": ["top_dense"], "weights": [1.0], "bias": 0.0}))
    with caplog.at_level(logging.WARNING, logger="rag"):
        assert Abstainer.load(path) == Abstainer.never()
    (record,) = caplog.records
    assert record.name == "rag.abstention" and record.levelno == logging.WARNING
    assert "fitted on other features" in record.getMessage() and "rag-eval fit-abstention" in record.getMessage()


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_the_threshold_is_a_probability(threshold):
    flat = Logistic((0.0,) * len(FEATURES), 0.0)
    with pytest.raises(ValueError, match=r"threshold is a probability: it must be in \[0, 1\]"):
        Abstainer(flat, threshold, flat)


def test_offtopic_question_abstains_but_lists_closest_passages(news):
    answer = news.ask("红烧肉怎么做才好吃?", top_k=3)
    abstainer = Abstainer.load()
    assert answer.abstained and answer.text is None and answer.citations == []
    assert len(answer.passages) == 3 and answer.confidence < abstainer.threshold
    assert answer.reason == "None of the passages is close enough to the question to answer it."
    assert tuple(answer.features) == FEATURES  # what the decision was made on, for the eval harness
    assert abstainer.answerable.probability(answer.features) == pytest.approx(answer.confidence, abs=1e-4)  # an abstention's confidence


def test_abstention_says_which_kind_of_answer_the_passages_lack(news):
    answer = news.ask("陈信翰是哪一年出生的?", top_k=3)  # the articles never give his birth year
    assert answer.abstained and answer.reason == "The question asks for a year, and the closest passages give none."


def test_answerable_question_does_not_abstain(news):
    answer = news.ask("OpenAI预计年亏损多少?", top_k=5)
    assert not answer.abstained and "50亿" in answer.text and answer.reason is None

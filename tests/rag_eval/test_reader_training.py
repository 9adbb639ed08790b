"""The reader's training pairs: answers where they say they are, negatives that hold no answer."""

import random

import pytest

from rag_eval.reader_training import Question, TrainSettings, article_of, build_pairs, split_dev

FILLER = "这一段写的是别的事情，与问题无关，只为了让段落足够长。"  # 27 characters, no answer in it


def _question(qid: str, paragraph: str, answer: str, question: str = "谁是首席技术官?") -> Question:
    context = FILLER * 3 + paragraph + FILLER * 3
    return Question(qid, question, context, ((answer, context.index(answer)),), article_of(qid), "DRCD_dev")


QUESTIONS = [
    _question("1-0-1", "公司的首席技术官是米拉·穆拉蒂。", "米拉·穆拉蒂"),
    _question("1-1-1", "公司成立于2015年。", "2015年", "公司哪一年成立?"),
    _question("2-0-1", "这座桥长一千二百米。", "一千二百米", "桥有多长?"),
]


def test_article_ids_follow_each_dataset():
    assert article_of("1-0-1") == "1" and article_of("DEV_12_QUERY_3") == "DEV_12"


def test_dev_split_keeps_each_article_on_one_side():
    train, dev = split_dev(QUESTIONS, 0.5, seed=0)
    assert sorted(train + dev) == [0, 1, 2]
    assert {QUESTIONS[i].article for i in train}.isdisjoint({QUESTIONS[i].article for i in dev})


@pytest.mark.parametrize("same_paragraph", [False, True])
def test_answering_windows_hold_the_answer_at_their_offsets_and_negatives_hold_none(same_paragraph):
    pairs = build_pairs(QUESTIONS, [0, 1, 2], TrainSettings(same_paragraph=same_paragraph), random.Random(0))
    for pair in pairs:
        question = QUESTIONS[pair.question]
        if pair.kind == "answering":
            start, end = pair.answer
            assert pair.window[start:end] == question.answers[0][0]
            assert question.context[pair.offset : pair.offset + len(pair.window)] == pair.window
        else:
            assert pair.answer is None and question.answers[0][0] not in pair.window


def test_same_paragraph_negatives_come_from_the_questions_own_paragraph_only_when_asked():
    plain = build_pairs(QUESTIONS, [0, 1, 2], TrainSettings(), random.Random(0))
    assert "same-paragraph" not in {pair.kind for pair in plain}
    pairs = build_pairs(QUESTIONS, [0, 1, 2], TrainSettings(same_paragraph=True), random.Random(0))
    same = [pair for pair in pairs if pair.kind == "same-paragraph"]
    # questions 0 and 1 share article 1, so each has another paragraph; question 2's article has one
    # paragraph, and its on-topic negative already comes from its own paragraph
    assert sorted(pair.question for pair in same) == [0, 1]
    assert all(pair.window in QUESTIONS[pair.question].context for pair in same)


def test_near_negatives_are_the_closest_window_of_another_article_and_hold_no_answer():
    lookalike = _question("3-0-1", "公司的首席技术官一职由别人担任。", "别人")  # shares the question's words
    questions = [*QUESTIONS, lookalike]
    pairs = build_pairs(questions, [0, 1, 2, 3], TrainSettings(near_negative=True), random.Random(0))
    near = {pair.question: pair.window for pair in pairs if pair.kind == "near"}
    assert "首席技术官" in near[0] and near[0] in lookalike.context  # not question 1's paragraph: same article
    for i, window in near.items():
        assert questions[i].article not in {q.article for q in questions if window in q.context}
        assert not any(text in window for text, _ in questions[i].answers)
    plain = build_pairs(questions, [0, 1, 2, 3], TrainSettings(), random.Random(0))
    assert "near" not in {pair.kind for pair in plain}
    assert plain == [pair for pair in pairs if pair.kind != "near"]  # the other pairs are drawn as before


@pytest.mark.model
def test_int8_lower_caches_the_frozen_layers_through_the_int8_graph(tmp_path):
    """The trained layers then learn from what the product's int8 reader gives them: close to the
    fp32 layers' output, not equal."""
    import numpy as np

    from rag.config import Settings
    from rag_eval.reader_training import ReaderModel, lower_session

    outputs = []
    for int8 in (False, True):
        model = ReaderModel(Settings().model_dir, TrainSettings(layers=2, frozen=1, int8_lower=int8))
        session = lower_session(model, tmp_path)
        vectors = np.random.default_rng(0).normal(size=(1, 6, 384)).astype(np.float32)
        (hidden,) = session.run(None, {"token_vectors": vectors, "attention_mask": np.ones((1, 6), dtype=np.int64)})
        outputs.append(hidden.ravel())
    assert (tmp_path / "lower.int8.onnx").is_file()
    fp32, int8 = outputs
    cosine = float(fp32 @ int8 / np.linalg.norm(fp32) / np.linalg.norm(int8))
    assert 0.98 < cosine < 1.0 - 1e-6

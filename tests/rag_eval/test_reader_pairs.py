"""The reader's training pairs: answers where they say they are, negatives that hold no answer."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from rag_eval.reader_data import Question, article_of
from rag_eval.reader_pairs import build_pairs, paragraph_pairs


@dataclass(frozen=True)
class PairSettings:
    window: tuple[int, int] = (40, 140)
    same_paragraph: bool = False
    near_negative: bool = False
    dev_window: int = 140
    dev_stride: int = 70


FILLER = "这一段写的是别的事情，与问题无关，只为了让段落足够长。"  # 27 characters, no answer in it


def _question(qid: str, paragraph: str, answer: str, question: str = "谁是首席技术官?") -> Question:
    context = FILLER * 3 + paragraph + FILLER * 3
    return Question(qid, question, context, ((answer, context.index(answer)),), article_of(qid), "DRCD_dev")


QUESTIONS = [
    _question("1-0-1", "公司的首席技术官是米拉·穆拉蒂。", "米拉·穆拉蒂"),
    _question("1-1-1", "公司成立于2015年。", "2015年", "公司哪一年成立?"),
    _question("2-0-1", "这座桥长一千二百米。", "一千二百米", "桥有多长?"),
]


@pytest.mark.parametrize("same_paragraph", [False, True])
def test_answering_windows_hold_the_answer_at_their_offsets_and_negatives_hold_none(same_paragraph):
    pairs = build_pairs(QUESTIONS, [0, 1, 2], PairSettings(same_paragraph=same_paragraph), random.Random(0))
    for pair in pairs:
        question = QUESTIONS[pair.question]
        if pair.kind == "answering":
            start, end = pair.answer
            assert pair.window[start:end] == question.answers[0][0]
            assert question.context[pair.offset : pair.offset + len(pair.window)] == pair.window
        else:
            assert pair.answer is None and question.answers[0][0] not in pair.window


def test_same_paragraph_negatives_come_from_the_questions_own_paragraph_only_when_asked():
    plain = build_pairs(QUESTIONS, [0, 1, 2], PairSettings(), random.Random(0))
    assert "same-paragraph" not in {pair.kind for pair in plain}
    pairs = build_pairs(QUESTIONS, [0, 1, 2], PairSettings(same_paragraph=True), random.Random(0))
    same = [pair for pair in pairs if pair.kind == "same-paragraph"]
    # questions 0 and 1 share article 1, so each has another paragraph; question 2's article has one
    # paragraph, and its on-topic negative already comes from its own paragraph
    assert sorted(pair.question for pair in same) == [0, 1]
    assert all(pair.window in QUESTIONS[pair.question].context for pair in same)


def test_near_negatives_are_the_closest_window_of_another_article_and_hold_no_answer():
    lookalike = _question("3-0-1", "公司的首席技术官一职由别人担任。", "别人")  # shares the question's words
    questions = [*QUESTIONS, lookalike]
    pairs = build_pairs(questions, [0, 1, 2, 3], PairSettings(near_negative=True), random.Random(0))
    near = {pair.question: pair.window for pair in pairs if pair.kind == "near"}
    assert "首席技术官" in near[0] and near[0] in lookalike.context  # not question 1's paragraph: same article
    for i, window in near.items():
        assert questions[i].article not in {q.article for q in questions if window in q.context}
        assert not any(text in window for text, _ in questions[i].answers)
    plain = build_pairs(questions, [0, 1, 2, 3], PairSettings(), random.Random(0))
    assert "near" not in {pair.kind for pair in plain}
    assert plain == [pair for pair in pairs if pair.kind != "near"]  # the other pairs are drawn as before


def test_dev_paragraphs_are_read_whole_as_overlapping_windows():
    # hand-computed: 6 fillers of 27 characters and a 10-character paragraph (172) in windows of 100
    # every 50: windows start at 0, 50 and 100, the last one ending with the text
    pairs = paragraph_pairs(QUESTIONS, [2], PairSettings(dev_window=100, dev_stride=50))
    context = QUESTIONS[2].context
    assert len(context) == 172 and [(p.offset, len(p.window)) for p in pairs] == [(0, 100), (50, 100), (100, 72)]
    assert all(p.kind == "paragraph" and p.answer is None and context[p.offset : p.offset + len(p.window)] == p.window for p in pairs)

"""Follow-up questions: which questions lean on the conversation, the history's checks, and how a
follow-up is asked with its conversation (hand-computed vectors)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.errors import InvalidQuestionError
from rag.followup import MAX_HISTORY, is_a_name, leans_on_context, resolved
from rag.query import Query, validate_history, with_context


@pytest.mark.parametrize(
    ("question", "leans"),
    [
        ("她是哪一年加入OpenAI的?", True), ("他們後來創辦了什麼公司?", True), ("該公司還和哪些政府機構合作?", True),
        ("估值呢?", True), ("那马斯克实际捐了多少?", True), ("其中 Kingma 現在在哪裡工作?", True),
        ("What was his title?", True), ("And when did he leave?", True), ("How long had he been at OpenAI?", True),
        ("What about the valuation?", True), ("When?", True),
        ("哥哥离开时说Anthropic会更侧重什么?", True), ("What was the sister's job at OpenAI at the time?", True),  # whose kin
        ("穆拉蒂是哪一年加入OpenAI的?", False), ("OpenAI這輪融資後估值將達到多少?", False),
        ("Which OpenAI CTO resigned in September 2024?", False), ("How much did OpenAI raise in October?", False),
    ],
)  # fmt: skip
def test_what_leans_on_the_conversation(question, leans):
    assert leans_on_context(question) is leans


@pytest.mark.parametrize(
    ("history", "message"),
    [("她是谁?", "must be a list"), ([1, 2], "must be a list"), ([["a"]], "must be a list"), (["谁?", ""], "history question 2: the question is empty"),
     (["谁?", "a\x00b"], "history question 2: the question contains control characters"),
     (["问"] * (MAX_HISTORY + 1), f"at most the last {MAX_HISTORY}"), (["问" * 2001], "history question 1: the question is 2,001 characters")],
)  # fmt: skip
def test_a_history_that_is_no_list_of_questions_is_refused_with_the_reason(history, message):
    with pytest.raises(InvalidQuestionError) as refused:
        validate_history(history, 2000)
    assert message in str(refused.value)


def test_no_history_and_a_good_one():
    assert validate_history(None, 2000) == () and validate_history([" 谁是CTO? ", "她呢?"], 2000) == ("谁是CTO?", "她呢?")


def _query(text: str, vector: list[float], tokens: tuple[str, ...]) -> Query:
    array = np.array(vector, dtype=np.float32)
    return Query(text, "zh-Hans", array, array, tokens)


def test_a_follow_up_weighs_the_last_turn_below_itself_and_earlier_turns_half_as_much_again():
    follow_up = _query("她是哪一年加入的?", [1.0, 0.0, 0.0], ("加入",))
    first, last = _query("谁是首席技术官?", [0.0, 0.0, 1.0], ("首席技术官",)), _query("她叫什么名字?", [0.0, 1.0, 0.0], ("名字", "加入"))
    asked = with_context(follow_up, [first, last], weight=0.5)
    expected = np.array([1.0, 0.5, 0.25]) / np.linalg.norm([1.0, 0.5, 0.25])  # by hand: 1·q + 0.5·last + 0.25·first
    assert np.allclose(asked.vector, expected) and np.allclose(asked.base_vector, expected)
    assert asked.tokens == ("加入", "名字", "首席技术官") and asked.text == follow_up.text  # its own tokens first, once each


@pytest.mark.parametrize(
    ("question", "kind", "expected"),
    [
        ("他是从哪所学校毕业的?", "person", "林泽宇是从哪所学校毕业的?"),
        ("她是哪一年進入該公司的?", "person", "林泽宇是哪一年進入該公司的?"),
        ("And what was his finishing time?", "person", "And what was 林泽宇's finishing time?"),
        ("Where did she study?", "person", "Where did 林泽宇 study?"),
        ("该公司的总部在哪里?", "organisation", "林泽宇的总部在哪里?"),
        ("When was it founded?", "organisation", "When was 林泽宇 founded?"),
        ("其他人呢?", "person", None), ("他们去了哪里?", "person", None),  # no pronoun for one person
        ("该公司的总部在哪里?", "person", None), ("他是谁?", "organisation", None),
        ("他母亲呢?", "person", None), ("What does his wife do?", "person", None),  # whose kin: the earlier question's subject
    ],
)  # fmt: skip
def test_a_pronoun_stands_for_the_earlier_answer(question, kind, expected):
    assert resolved(question, kind, "林泽宇") == expected


@pytest.mark.parametrize(
    ("text", "names"),
    [("林泽宇", True), ("李佩珊", True), ("Bob McGrew", True), ("Altman", True), ("米拉·穆拉蒂", True), ("梅塞雷特·格塔丘(Meseret Getachew)", True),
     ("Mark Chen(陈信翰)", True), ("江南省人民医院院长", False), ("董事长", False), ("OpenAI", False), ("interim CEO Mira Murati against the best", False)],
)  # fmt: skip
def test_what_is_one_persons_name(text, names):
    assert is_a_name(text) is names

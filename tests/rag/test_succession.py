"""Who takes over: the questions that ask for a successor, and the person a sentence says leaves."""

from __future__ import annotations

import pytest

from rag.succession import asks_for_successor, leaves, takes_office, takes_over, tells_of_succession


@pytest.mark.parametrize(
    "question, successor",
    [
        ("晶元科技的新任總經理是誰?", True),
        ("星河汽车的新任首席执行官是谁?", True),
        ("穆拉蒂辞职后谁接任?", True),
        ("由誰接替黃建民?", True),
        ("谁将成为新的CEO?", True),
        ("Who will replace her as CTO?", True),
        ("Who succeeded Sam Altman?", True),
        ("Who is the new general manager?", True),
        ("Who will become general manager of the company?", True),
        ("晶元科技的總經理是誰?", False),
        ("谁宣布辞职?", False),
        ("Who founded the company?", False),
        ("Who resigned in September?", False),
    ],
)
def test_a_question_asks_for_the_successor(question, successor):
    assert asks_for_successor(question) is successor


RETIRES = "現任總經理黃建民因屆齡退休,由資深副總經理吳思穎接任,7月1日生效。"
STEPS_DOWN = "创始人林志远将卸任首席执行官,转任董事长一职,原首席运营官陈晓雯接任首席执行官。"
REPLACES = "吴思颖将接替已辞职的王强。"


def _at(text: str, name: str) -> tuple[int, int]:
    start = text.index(name)
    return start, start + len(name)


@pytest.mark.parametrize(
    "text, name, leaving",
    [
        (RETIRES, "黃建民", True),  # its clause goes on "因屆齡退休" (Traditional, folded)
        (RETIRES, "吳思穎", False),
        (RETIRES, "黃建民因屆齡退休,由資深副總經理吳思穎", True),  # a span naming both holds the leaving
        (STEPS_DOWN, "林志远", True),  # "将卸任"
        (STEPS_DOWN, "陈晓雯", False),
        (REPLACES, "吴思颖", False),  # she takes over before the clause names who resigned
        (REPLACES, "王强", False),  # nothing follows it: the span's own words decide
        ("Lin Zhiyuan will step down next month.", "Lin Zhiyuan", True),
        ("首席执行官林志远在香港表示,公司不会离开深圳。", "林志远", False),  # 离开 too far into its clause
    ],
)
def test_the_person_a_sentence_says_leaves(text, name, leaving):
    assert leaves(text, *_at(text, name)) is leaving


@pytest.mark.parametrize(
    "text, name, taking",
    [(RETIRES, "吳思穎", True), (STEPS_DOWN, "陈晓雯", True), (REPLACES, "吴思颖", True), (RETIRES, "黃建民", False),
     ("Chen will take over in April.", "Chen", True), ("陈晓雯将于4月1日起接任。", "陈晓雯", False)],  # fmt: skip
)
def test_the_person_named_right_before_taking_over(text, name, taking):
    assert takes_over(text, _at(text, name)[1]) is taking


@pytest.mark.parametrize(
    ("text", "tells"),
    [(RETIRES, True), ("宣布原董事长周国栋因到龄退休,由原副院长林泽宇出任董事长。", True), ("Mark Chen will succeed him.", True),
     ("现年65岁的周国栋是普外科医生出身的管理者,2016年后出任董事长。", False), ("他在公司工作了六年。", False)],
)  # fmt: skip
def test_a_sentence_that_tells_of_a_succession(text, tells):
    assert tells_of_succession(text) is tells


@pytest.mark.parametrize(
    ("text", "takes"),
    [("2016年,张伟出任海滨市市长。", True), ("2022年5月,晋升为首席技术官。", True), (RETIRES, True), ("He was appointed CEO in 2019.", True),
     ("OpenAI成立于2015年。", False), ("张伟任内主导建设了海滨港二期工程。", False)],
)  # fmt: skip
def test_a_sentence_that_tells_of_someone_taking_an_office(text, takes):
    assert takes_office(text) is takes

"""Answers that know when: the period a question asks about, the time a text speaks of, and the
re-scoring of the top passages by it (hand-made rankings)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.document import Document
from rag.query import Query
from rag.retrieve import Candidate, Closeness, Ranking
from rag.store.base import ChunkRecord
from rag.when import Asked, asked, matches, names_former, rerank_by_time, speaks_of_then, spoken_of, times_spoken_of


@pytest.mark.parametrize(
    ("question", "expected"),
    [("2017年初,OpenAI的首席技术官是谁?", Asked(period="2017")), ("2023年11月风波期间谁是CEO?", Asked(period="2023-11")),
     ("2023 年 11 月 20 日那天誰是執行長?", Asked(period="2023-11-20")), ("Who was CTO in November 2023?", Asked(period="2023-11")),
     ("What was OpenAI valued at in 2021?", Asked(period="2021")), ("OpenAI现在的CEO是谁?", Asked(current=True)),
     ("OpenAI 目前的估值是多少?", Asked(current=True)), ("Who is OpenAI's CEO now?", Asked(current=True)),
     ("OpenAI的首席技术官是谁?", Asked(current=True)), ("OpenAI的首席技術官是誰？", Asked(current=True)),
     ("誰是OpenAI的執行長?", Asked(current=True)), ("Who is OpenAI's chief scientist?", Asked(current=True)),
     ("Who is the CEO of OpenAI?", Asked(current=True)), ("Who is the chairman of OpenAI's board?", Asked(current=True)),
     ("Who is the head of research at OpenAI?", Asked(current=True)),
     # an office asked with another time, or inside a longer question, is not about now
     ("Who was OpenAI's CTO?", Asked()), ("时任CTO是谁?", Asked()), ("誰將擔任OpenAI的首席信息安全官?", Asked()),
     ("Who was the first CEO of OpenAI?", Asked()), ("Altman 凌晨按讚的那幾位員工中,誰是首席戰略官?", Asked()),
     ("在北京那场AI大会上与Altman远程对话的智源研究院负责人是谁?", Asked()), ("Who is Mira Murati?", Asked()),
     ("OpenAI是哪一年成立的?", Asked()),
     # a range of years is the range, not its first year
     ("2017年至2018年间,OpenAI流失了多少名员工?", Asked(period="2017", through="2018")),
     ("2019 到 2020 年間,OpenAI 有哪些研究方向陷入停滯?", Asked(period="2019", through="2020")),
     ("What happened at OpenAI between 2019 and 2020?", Asked(period="2019", through="2020"))],
)  # fmt: skip
def test_the_time_a_question_asks_about(question, expected):
    assert asked(question) == expected


def test_the_time_a_text_speaks_of_is_its_latest_stated_date_else_its_articles():
    assert spoken_of("2022年5月,晋升为首席技术官;2024年9月离职。", "2024-09-26") == "2024-09"
    # a month of a year is that month, not the whole year: May 2024 does not answer for September 2024
    assert spoken_of("Ilya Sutskever 在 2024 年 5 月离开 OpenAI。", "2024-09-26") == "2024-05"
    assert spoken_of("Murati left in Sept. 2024, after six years.", None) == "2024-09"
    assert not matches(asked("2024年9月谁离开了OpenAI?").period or "", spoken_of("Ilya Sutskever 在 2024 年 5 月离开 OpenAI。", None))
    assert spoken_of("2023年11月20日员工发出公开信。", None) == "2023-11-20"
    assert spoken_of("她宣布离职。", "2024-09-26") == "2024-09-26"
    # a statement about the present speaks of its article's date, not of the past year it mentions
    assert spoken_of("奥尔特曼仍然是OpenAI的CEO,在2023年11月经历短暂被解雇后回归公司。", "2024-09-26") == "2024-09-26"
    assert spoken_of("Wojciech Zaremba 目前仍在 OpenAI。", "2024-09-26") == "2024-09-26"
    assert spoken_of("奧特曼仍然是執行長,2023年曾被解雇。", None) == "2023"  # no article date: the year it states
    assert matches("2023-11", "2023-11-20") and matches("2023", "2023-11") and not matches("2023-11", "2024") and not matches("2017", None)


def test_every_time_a_text_states_and_else_the_one_it_inherits():
    # "为什么在2020年没有举行?" is answered by a sentence whose latest year is 2023
    assert times_spoken_of("2020年赛事因新冠疫情停办一年,2023年首次获评金标赛事。", "2024-11-18") == ["2020", "2023"]
    assert times_spoken_of("首届仅有约8000名选手参赛。", "2024-11-18", before="赛事创办于2015年。") == ["2015"]
    assert times_spoken_of("首届仅有约8000名选手参赛。", "2024-11-18") == ["2024-11-18"]
    assert times_spoken_of("首届仅有约8000名选手参赛。", None) == []


def test_a_time_speaks_of_the_asked_period_when_it_falls_in_it_as_precisely_as_asked():
    november = Asked(period="2023-11")
    assert [speaks_of_then(november, time) for time in ("2023-11-20", "2023-11", "2023", "2023-10", "2024", None)] == [True, True, False, False, False, False]
    span = Asked(period="2017", through="2018")
    assert [speaks_of_then(span, time) for time in ("2016-12-31", "2017", "2018-06", "2019")] == [False, True, True, False]
    assert not speaks_of_then(Asked(current=True), "2024")


def test_a_text_that_states_no_time_speaks_of_the_time_its_paragraph_set_before_it():
    paragraph = "01.2017-2018:创立2年\nOpenAI成立于2015年底,至2017年初他们已拥有45名员工。其间人员流动频繁。"
    then = "埃隆·马斯克和萨姆·阿尔特曼是OpenAI的联席主席,时任CTO为格雷格·布罗克曼。"
    assert spoken_of(then, "2024-09-13", before=paragraph) == "2017"  # the nearest sentence before it that states a time
    assert spoken_of(then, "2024-09-13", before="OpenAI成立于2015年底。\n") == "2024-09-13"  # another paragraph's time does not carry
    assert spoken_of("他目前仍是总裁。", "2024-09-13", before=paragraph) == "2024-09-13"  # the present, in its own words
    assert spoken_of("2019年,他离开了。", "2024-09-13", before=paragraph) == "2019"  # its own time first


def _ranking(question: str, texts: list[str], dates: list[str | None]) -> Ranking:
    documents = {f"d{i}": Document(f"d{i}", "f", "t", "zh-Hans", "0", text, published=date) for i, (text, date) in enumerate(zip(texts, dates, strict=True))}
    chunks = {i: ChunkRecord(i, f"d{i}", 0, len(text), ()) for i, text in enumerate(texts)}
    candidates = [Candidate(i, 1.0 - 0.1 * i, ()) for i in range(len(texts))]
    query = Query(question, "zh-Hans", np.zeros(2, np.float32), np.zeros(2, np.float32), ())
    return Ranking(query, candidates, chunks, {}, documents, Closeness(0.9, 0.9))


def test_the_asked_period_and_the_newest_move_up_by_their_weight():
    texts = ["2017年时,CTO为布罗克曼。", "2022年,穆拉蒂晋升为CTO。", "她宣布离职。"]
    ranking = _ranking("2017年时谁是CTO?", texts, [None, None, "2024-09-26"])
    # by hand: 1.0 + 0.15 (2017 asked and stated), 0.9, 0.8
    assert [(c.chunk_id, round(c.score, 2)) for c in rerank_by_time(ranking, asked(ranking.query.text), 10, 0.15, 0.15).candidates] == [(0, 1.15), (1, 0.9), (2, 0.8)]
    now = _ranking("现在谁是CTO?", texts, [None, None, "2024-09-26"])
    # times 2017 < 2022 < 2024-09-26: bonuses 0, 0.5·0.3, 1·0.3
    assert [(c.chunk_id, round(c.score, 2)) for c in rerank_by_time(now, asked(now.query.text), 10, 0.2, 0.3).candidates] == [(2, 1.1), (1, 1.05), (0, 1.0)]
    years = _ranking("2021年至2023年间谁是CTO?", texts, [None, None, "2024-09-26"])  # a range: 2022 falls in it
    assert [(c.chunk_id, round(c.score, 2)) for c in rerank_by_time(years, asked(years.query.text), 10, 0.15, 0.15).candidates] == [(1, 1.05), (0, 1.0), (2, 0.8)]
    plain = _ranking("穆拉蒂宣布了什么?", texts, [None, None, None])
    assert rerank_by_time(plain, asked(plain.query.text), 10, 0.15, 0.15) is plain


@pytest.mark.parametrize(
    ("text", "question", "former"),
    [
        ("OpenAI前首席科学家Ilya Sutskever被外界称为四大天王之一。", "OpenAI现任首席科学家是谁?", True),
        ("前OpenAI首席科學家蘇茨克維創辦了SSI。", "OpenAI現任首席科學家是誰?", True),  # Traditional, the company between
        ("The former chief scientist left in May.", "Who is OpenAI's chief scientist now?", True),
        ("原CTO穆拉蒂宣布创业。", "OpenAI目前的CTO是谁?", True),
        ("首席科学家雅库布将合作领导研究组织。", "OpenAI现任首席科学家是谁?", False),
        ("OpenAI前首席科学家Ilya Sutskever被外界称为四大天王之一。", "OpenAI现任CEO是谁?", False),  # another office
        ("在他离职前首席科学家一职空缺。", "OpenAI目前有几个员工?", False),  # the question names no office
    ],
)
def test_a_text_naming_the_asked_office_as_someones_former_one(text, question, former):
    assert names_former(text, question) is former

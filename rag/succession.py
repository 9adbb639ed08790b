"""Who takes over: a question that asks for the successor, and which person a sentence says leaves.

News of a change at the top names two people in one sentence: "现任总经理黄建民因届龄退休,由资深副总经理
吴思颖接任", "创始人林志远将卸任首席执行官,……,原首席运营官陈晓雯接任首席执行官". Asked "新任总经理是谁?",
the reader (trained on encyclopedic paragraphs) gives the first name, the one who leaves: probed on two
such articles it answered 黄建民 and 林志远 (its P 0.57 and 0.24), and the successor was among its
spans at 0.02 or not at all. So for a question that asks for the successor (``asks_for_successor``), a
span naming the one who leaves (``leaves``) is no answer, and a short one right before "接任" (``takes_over``)
is shown even when the reader rates it low (``rag.answer._span``). Texts are folded (``answer_types.fold``),
so Traditional Chinese and full-width letters count too.
"""

from __future__ import annotations

import re

from rag.answer_types import CHINESE, CLAUSE, fold

_SUCCESSOR_ASKED = re.compile(
    r"新任|接任|继任|接替|接班|接棒|接掌|接手|取代|由谁|谁将(?:成为|出任|担任|领导)|新的?(?:首席|总|CEO|董事长|主席|负责人)"
    r"|\b(?:new|next|succeed(?:s|ed)?|successor|replac(?:e|es|ed)|take over|took over|takes over)\b|\bwill (?:become|be named|lead)\b",
    re.IGNORECASE,
)
# the person a span names leaves: it holds one of these, or its own clause goes on with one ("黄建民因届龄退休")
_LEAVING = re.compile(
    r"卸任|辞职|辞去|离职|离任|去职|退休|下台|离开|交棒|卸下|转任|调任|改任|被解雇|被开除|被罢免|被免职|被撤换"
    r"|\b(?:resign(?:s|ed)?|retir(?:e|es|ed|ing)|step(?:s|ped)? down|leav(?:e|es|ing)|left|depart(?:s|ed)?|fired|ousted)\b",
    re.IGNORECASE,
)
_NEAR_CHINESE, _NEAR_LATIN = 12, 32  # how far into its clause a word of leaving still tells of the one named
_TAKING_OVER = re.compile(
    r"\s*(?:将会?|会|已|正式|将正式|will|has|had|to)?\s*(?:接任|接替|继任|出任|升任|接掌|接棒|接手|succeed|take over|takes over|took over|replace)",
    re.IGNORECASE,
)


def asks_for_successor(question: str) -> bool:
    """Whether ``question`` asks who takes someone's place ("新任總經理是誰?", "Who will replace her?")."""
    return _SUCCESSOR_ASKED.search(fold(question)) is not None


def leaves(text: str, start: int, end: int) -> bool:
    """Whether the person ``text[start:end]`` names is said to leave: the span holds a word of leaving
    ("黄建民因届龄退休,由……吴思颖" names both), or the rest of its clause opens with one within a few words,
    unless it says first that they take over ("吴思颖将接替已辞职的王强")."""
    if _LEAVING.search(fold(text[start:end])) is not None:
        return True
    after = CLAUSE.match(fold(text[end : end + _NEAR_LATIN])).group(0)  # type: ignore[union-attr]  # the pattern matches empty
    near = after[:_NEAR_CHINESE] if CHINESE.search(after[:3]) else after  # "将卸任…", " will step down …"
    return not takes_over(text, end) and _LEAVING.search(near) is not None


_SUCCESSION = re.compile(r"接任|接替|继任|接掌|接棒|接手|由[^,，。]{1,20}出任|\b(?:succeed(?:s|ed)?|takes? over|took over|replac(?:e|es|ed))\b", re.IGNORECASE)


# someone takes an office (a succession, an election, a promotion): what changes who holds it
_TAKING_OFFICE = re.compile(
    rf"{_SUCCESSION.pattern}|出任|就任|上任|当选|升任|晋升|任命|被任命|\b(?:appointed|named|became|elected|promoted)\b", re.IGNORECASE
)


def takes_office(text: str) -> bool:
    """Whether ``text`` says someone takes an office ("2016年,张伟出任海滨市市长", "2022年5月,晋升为首席技术官")."""
    return _TAKING_OFFICE.search(fold(text)) is not None


def tells_of_succession(text: str) -> bool:
    """Whether ``text`` says someone takes another's place ("由原集团副院长林泽宇接任", "will succeed him")."""
    return _SUCCESSION.search(fold(text)) is not None


def takes_over(text: str, end: int) -> bool:
    """Whether ``text`` says right after ``end`` that the one named before takes over ("吴思颖接任")."""
    return _TAKING_OVER.match(fold(text[end : end + _NEAR_LATIN])) is not None

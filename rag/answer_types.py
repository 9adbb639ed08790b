"""Expected answer types: a question that asks for a year, an amount, an age … cannot be answered
by sentences that hold no such thing. Used as a feature of the abstention model.

Questions about a person ("who", "哪位") are left untyped: names are too varied to check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMERAL = r"[\d一二两三四五六七八九十百千万亿兩萬億几幾数數半]"
_PERSON_QUESTION = re.compile(r"哪位|谁|誰|\bwho\b", re.IGNORECASE)


@dataclass(frozen=True)
class AnswerType:
    name: str
    noun: str  # for messages: "the question asks for {noun}"
    asked_by: re.Pattern[str]  # how a question asks for it
    found_in: re.Pattern[str]  # what an answering text must contain


def _type(name: str, noun: str, asked_by: str, found_in: str) -> AnswerType:
    return AnswerType(name, noun, re.compile(asked_by, re.IGNORECASE), re.compile(found_in, re.IGNORECASE))


# The first type whose question pattern matches wins, so specific types come before "number".
ANSWER_TYPES = (
    _type("year", "a year", r"哪一?年|什[么麼]年份|which year|what year", r"\d{2,4}\s*年|\d{4}|去年|今年|前年|明年"),
    _type(
        "date",
        "a date",
        r"哪一?天|几号|幾號|什[么麼]日期|what date|which day|what day",
        r"\d+\s*[月日号號]|[昨今前明]天|[周週][一二三四五六日]|星期|上[周週]|本[周週]|月[底初]",
    ),
    _type(
        "time",
        "a time",
        r"\bwhen\b|什[么麼]时候|什[么麼]時候|何[时時]",
        r"\d{2,4}\s*年|\d{4}|[去今前明]年|年[底初中]|\d+\s*[月日号號]|[昨今前明]天|星期|[上本下][周週]|月[底初]"
        r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d",
    ),
    _type("age", "an age", r"几岁|幾歲|多大年[纪紀]|年[龄齡]|[岁歲]数|how old|\bage\b", r"岁|歲|years? old"),
    _type(
        "school",
        "a school or university",
        r"大[学學]|[学學]院|[毕畢]业|university|college|graduat",
        r"大[学學]|[学學]院|[学學]位|[毕畢]业|university|college",
    ),
    _type(
        "share",
        "a share or percentage",
        r"百分比|百分之|比例|多少股[份权權]|percent|stake|what share",
        r"%|％|百分之|一半|半[数數]|分之|[一二三四五六七八九]成",
    ),
    _type(
        "money",
        "an amount of money",
        r"多少[钱錢]|多少[资資]金|融到|how much (?:money|funding|did|has)",
        r"美元|元|\$|[亿億万萬]|billion|million",
    ),
    _type(
        "duration",
        "a length of time",
        r"多[长長]时间|多[长長]時間|多久|how long|how many (?:minutes|hours|days|weeks|months|years)"
        r"|(?:多少|几|幾)\s*(?:分[钟鐘]|小[时時]|天|[周週]|个月|個月)",
        _NUMERAL + r"\s*(?:年|个?月|個?月|天|小[时時]|分[钟鐘]|[周週])|\d+\s*(?:minute|hour|day|week|month|year)s?\b",
    ),
    _type("number", "a number", r"多少|(?<!哪)[几幾]|how many|how much", _NUMERAL),  # 哪几: "which ones"
)


def expected_type(question: str) -> AnswerType | None:
    if _PERSON_QUESTION.search(question):
        return None
    return next((kind for kind in ANSWER_TYPES if kind.asked_by.search(question)), None)


def missing_type(question: str, text: str) -> AnswerType | None:
    """The type the question asks for, when ``text`` contains nothing of it."""
    kind = expected_type(question)
    return kind if kind is not None and not kind.found_in.search(text) else None

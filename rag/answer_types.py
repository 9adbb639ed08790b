"""Expected answer types: what kind of thing a question asks for (a year, a date, an amount, a name …),
and whether a text holds one. The answer stage prefers the sentence and the span that hold the asked
type; the abstention model weighs a missing one.

Everything is in two tables: ``ASKED`` (how questions ask, in Simplified Chinese and English; a
Traditional-Chinese question is folded to Simplified first, and every text is NFKC-normalised, so
full-width digits and letters count as ASCII) and ``VALUES`` (how Chinese news writes the values:
digits with or without spaces around 年/月/日, Chinese numerals, a month and a day with no year,
relative dates, amounts in 万/亿 and in English words, percentages, places as jieba tags them, schools
by name). The first question pattern that matches decides the type, so specific ones come first. A text
answers only with a value the question does not already give (``missing_type``). Tests:
``tests/rag/test_answer_types.py``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from rag.amounts import same_amount
from rag.clean import to_simplified

CHINESE = re.compile(r"[\u4e00-\u9fff]")
CLAUSE = re.compile(r"[^,，;；。!！?？]*")  # the rest of a clause: up to its punctuation (matches empty)  # a Han character: whether a text is written in Chinese

# --- how Chinese news writes values (after NFKC: "２０２３" is "2023", "％" is "%")
_CN_DIGIT = "〇零○一二两三四五六七八九"
_CN_NUMBER = rf"[{_CN_DIGIT}十百千万亿兩萬億]+"
# 几 and 数 count only before a unit: "数百人", "几年", not "数据" or "几乎"
_NUMBER = rf"(?:\d[\d,.]*|{_CN_NUMBER}|[几幾数數](?=[十百千万亿萬億个個名位人家次倍年月天日周週小分秒岁歲])|半)"
_YEAR = (
    rf"(?:(?:19|20)\d\d|[{_CN_DIGIT}]{{4}})\s*年?|[去今前明同当當]年|(?<![\d\w])(?:19|20)\d\d(?![\d\w])"
    rf"|(?<![\d.])\d{{3,4}}\s*年|(?:民国|民國|西元|公元前?)\s*[\d{_CN_DIGIT}十百]+\s*年"  # older years, and eras' ("民國32年", "1070年")
)
_MONTH_DAY = (
    rf"\d{{1,2}}\s*月\s*\d{{1,2}}\s*[日号號]?|[{_CN_DIGIT}十]{{1,3}}\s*月\s*[{_CN_DIGIT}十廿卅]{{1,3}}\s*[日号號]"
    r"|\d{4}\s*[-/.]\s*\d{1,2}\s*[-/.]\s*\d{1,2}|(?<![\d.])\d{1,2}/\d{1,2}(?![\d/])"
)
_MONTHS_EN = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DAY = (
    rf"{_MONTH_DAY}|\b{_MONTHS_EN}\s+\d{{1,2}}\b|\b\d{{1,2}}\s+{_MONTHS_EN}|[昨今前明当當次翌]天|[昨今前明当當次翌]日"
    r"|[周週][一二三四五六日末]|星期[一二三四五六日天]|[上本下这這][周週]|月[底初中]|[上中下]旬"
)
_TIME = (
    rf"{_YEAR}|{_DAY}|\d{{1,2}}\s*月|[{_CN_DIGIT}十]{{1,2}}\s*月|年[底初中末]|[春夏秋冬][季天]|\b{_MONTHS_EN}\b"
    r"|\b(?:19|20)\d\d\b|\b(?:last|next|this)\s+(?:year|month|week)\b|\d{1,2}\s*[:：]\s*\d{2}"
)
_CURRENCY = r"美元|美金|元|人民币|人民幣|港元|港币|欧元|歐元|英镑|英鎊|日元|\$|¥|￥|usd|dollars?|rmb|yuan"
_MONEY = rf"{_NUMBER}\s*(?:[万亿萬億千百]|billion|million|trillion|bn|m)?\s*(?:{_CURRENCY})|(?:\$|¥|￥)\s*\d"
_SHARE = rf"%|百分之|{_NUMBER}\s*成(?![立员員功为為])|分之|一半|半[数數]|\bpercent\b|\bhalf\b"
# a year is no length of time: "2013年" of "2013年,她进入特斯拉工作了3年" does not answer "工作了几年";
# nor is a month or day of the calendar: "6月" is June ("6个月" six months), "21日" the 21st
_DURATION = (
    rf"(?<![\d{_CN_DIGIT}十])(?!(?:19|20)\d\d\s*年|[{_CN_DIGIT}]{{4}}\s*年)"
    rf"{_NUMBER}\s*[万亿萬億千百]?\s*(?:多|余|餘)?\s*(?:(?:个|個)\s*月|(?<=[几幾数數半多余餘])\s*[月日]|年|天|小[时時]|分[钟鐘]|[周週]|星期|秒)(?:半|多)?|年半"
    r"|\b\d+(?:\.\d+)?\s*(?:years?|months?|days?|hours?|weeks?|minutes?)\b"
)
_AGE = rf"{_NUMBER}\s*[岁歲]|\byears?\s+old\b|\baged?\s+\d"
# a school by its name ("塞耶工程学院", "Stanford University"), or a word of study after a name: a bare
# "大学" is no answer to "哪所大学" (``missing_type`` wants a value the question does not give)
_SCHOOL = (
    r"[\u4e00-\u9fff]{2,10}(?:大学|学院|中学|高中|学校)|(?:[A-Z][\w.&-]*\s+){1,4}(?:university|college|institute|school)\b"
    r"|\b(?:university|college|institute) of\s+[A-Z]\w+|毕业于\s*[\w\u4e00-\u9fff]{2,}|\bgraduated? from\s+[A-Z]\w+"
)
# an organisation's name in Latin letters: words of which the first has a capital anywhere ("xAI",
# "Anthropic") and the others open with one ("Safe Superintelligence Inc", "Google DeepMind"); Chinese
# names of companies (谷歌, 微软) are too varied to find (jieba tags them nr, a, nrt)
ORGANISATION_LATIN = re.compile(r"(?<![A-Za-z0-9.&'’-])(?=[A-Za-z0-9.&'’-]*[A-Z])[A-Za-z][A-Za-z0-9.&'’-]*(?:[ ][A-Z0-9][A-Za-z0-9.&'’-]*)*")
# a person's name: Latin words with capitals, or a Han name written with the middle dot
_PERSON = r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+\b|[\u4e00-\u9fff]{1,6}·[\u4e00-\u9fff]{1,8}"


@dataclass(frozen=True)
class AnswerType:
    name: str
    noun: str  # for messages: "the question asks for {noun}"
    asked_by: re.Pattern[str]  # how a question asks for it (on the folded question)
    found_in: re.Pattern[str]  # what an answering text holds
    checkable: bool = True  # False: too varied to refuse an answer for lacking it (names)
    found_by: Callable[[str], list[str]] | None = None  # more of its values in a folded text (places: jieba's tags)
    # False: the values found are too partial to tell the judge which sentence answers (a company is found
    # only when written in Latin letters: "微軟" is not, so "入職微軟" lost to a sentence naming "OpenAI")
    guides_judge: bool = True


def _type(name: str, noun: str, asked: str, found: str, checkable: bool = True, found_by: Callable[[str], list[str]] | None = None,
          found_flags: int = re.IGNORECASE, guides_judge: bool = True) -> AnswerType:  # fmt: skip
    return AnswerType(name, noun, re.compile(asked, re.IGNORECASE), re.compile(found, found_flags), checkable, found_by, guides_judge)


# A place in Chinese text: a word jieba tags as a place name ("ns": 加拿大, 意大利, 印度), unless it is
# part of a transliterated name written with the middle dot (jieba tags 埃隆 of 埃隆·马斯克 "ns"); in
# English text, a capitalised word after "in", "from", "at" or "near" (case matters there).
_PLACE_LATIN = r"\b(?:in|from|at|near)\s+(?:the\s+)?[A-Z][a-z]+"


def _places(text: str) -> list[str]:
    import jieba.posseg  # only once a question asks for a place: 0.25 s to import, 0.5 s to load its tags

    found, position = [], 0
    for word, flag in jieba.posseg.cut(text):
        start, position = position, position + len(word)
        if flag == "ns" and "·" not in text[max(0, start - 1) : position + 1]:
            found.append(word)
    return found


# The first type whose question pattern matches wins. English "when" asks for a time only as the
# question's own word ("When did …", "since when"), not as a clause opening another question ("When
# Murati resigned, who …"): held-out checks abstained on those (issue 24).
ASKED = (
    _type("year", "a year", r"哪一?年(?!级|級)|什么年份|哪个年份|何年|几几年|(?:西元|公元|民国)\s*几\s*年|\b(?:which|what) year\b", _YEAR),
    _type("date", "a date", r"哪一?天|几[号日]|什么日期|哪个日子|\bwhat (?:date|day)\b|\bwhich day\b|\bon what date\b", _DAY),
    _type("time", "a time",
          r"什么时候|什么时间|何时|哪个时候|哪段时间|几时|\bwhat time\b|\b(?:since|until|till|by) when\b"
          r"|^\W*(?:and\s+|so\s+|but\s+)?when\s+(?:did|does|do|was|were|is|are|will|would|has|have|had|could|can|should|might)\b",
          _TIME),  # fmt: skip
    _type("age", "an age", r"几岁|多少岁|多大年纪|年龄|岁数|\bhow old\b|\bwhat age\b|\bat what age\b", _AGE),
    _type("school", "a school or university", r"哪[所间個个]?(?:大学|学院|学校)|毕业于|\b(?:which|what)(?:\s+\w+)?\s+(?:university|college|school)\b"
          r"|\bgraduat|\b(?:go|went|attend|attended|study|studied)\b[^?]*\b(?:university|college)\b|(?:就读|读书|求学|上学)于?哪"
          r"|在哪[里儿]?(?:读|上)的?大学", _SCHOOL),  # fmt: skip
    # where in the world, asked explicitly ("哪个城市", "which Canadian city", "where was X born"); a bare
    # "在哪里" of these articles asks as often for a company or a reason, so it is not typed
    _type("place", "a place",
          r"哪[个座]?(?:城市|国家|州|省|县|城)|出生[在于]哪|在哪[里儿]?出生|总部[设位]?[在于]哪|"
          r"\b(?:which|what)(?:\s+\w+)?\s+(?:city|country|state|province|town)\b|\bwhere\s+(?:was|were|is|are)\b[^?]*\b(?:born|based|headquartered)\b",
          _PLACE_LATIN, found_by=_places, found_flags=0),  # fmt: skip
    _type("share", "a share or percentage", r"百分比|百分之几|多少百分|比例|多少股[份权]|多大比例|\bpercent|\bstake\b|\bwhat share\b"
          r"|\bwhat (?:fraction|proportion)\b", _SHARE),  # fmt: skip
    _type("money", "an amount of money",
          r"多少钱|多少资金|多少美元|多少元|(?:估值|融资|融到|投资|营收|收入|年薪|薪水|工资|薪酬|成本|花费|耗资|市值|身家|价格|售价|亏损|支出|开支|损失|花掉|烧掉"
          r"|票价|价钱|费用|经费|预算|净利润|利润(?!率)|股价)(?:(?!增长|增加|上涨|上升|下降|下滑|下跌|减少|涨|跌)[^。,?]){0,6}多少"  # not how much it grew
          r"|多少[^。,?]{0,4}(?:估值|融资|投资|营收|收入|年薪|薪水|资金|亏损|支出)|\bhow much (?:\w+ )?(?:money|funding|capital|cash)\b"
          r"|\bhow much (?:did|does|do|was|were|is|will|has|had)\b[^?]*\b(?:raise|raised|worth|valued|valuation|cost|pay|paid|earn|invest|salary|revenue|fund"
          r"|lose|lost|loss|spend|spent|burn)"
          r"|\bwhat (?:was|is|were|are)\b[^?]*\b(?:salary|pay|compensation|revenue|valuation|net worth|price|valued at|worth)\b",
          _MONEY),  # fmt: skip
    _type("duration", "a length of time",
          r"多长时间|多久|多少年|多少天|几年|几个月|几天|几周|几小时|\bhow long\b|\bhow many (?:minutes|hours|days|weeks|months|years)\b"
          r"|(?:多少|几)\s*(?:分钟|小时|天|[周週]|个月)", _DURATION),  # fmt: skip
    _type("number", "a number", r"多少|(?<!哪)几(?![乎])|\bhow many\b|\bhow much\b|\bwhat number\b", _NUMBER.replace("|半", "")),
    _type("organisation", "a company or organisation",
          r"哪[家个間间]\s*[\u4e00-\u9fff]{0,4}?(?:公司|企业|机构|组织|初创|创业公司|平台|实验室|基金|银行|媒体|报社)|什么(?:公司|企业|机构|组织|平台)"
          r"|\b(?:which|what) (?:\w+ )?(?:company|companies|firm|startup|start-up|organi[sz]ation|platform|lab|investor|fund|bank)\b",
          ORGANISATION_LATIN.pattern, checkable=False, found_flags=0, guides_judge=False),  # fmt: skip
    _type("person", "a person", r"哪位|谁|何人|什么人|哪个人|哪些人|\bwho\b|\bwhom\b|\bwhose\b|\bwhich (?:person|executive|researcher|employee)",
          _PERSON, checkable=False),  # fmt: skip
)
_BY_NAME = {kind.name: kind for kind in ASKED}
PERSON = _BY_NAME["person"]
# a question that asks for a person may still ask "how many people …": the person row comes last, and a
# person question is not typed by the rows above unless they are explicit about the value
_PERSON_FIRST = re.compile(r"^\W*(?:who|whom|whose)\b|谁|哪位", re.IGNORECASE)
_COUNT = re.compile(r"多少|几[位名]|几个人|\bhow (?:many|much)\b", re.IGNORECASE)
# "Who is Brad Lightcap?", "米拉·穆拉蒂是谁?" ask who someone named is (a role, what they did), not for a
# name: another person's name is no answer ("Who was Emmett Shear?" was answered "Ilya Sutskever"). Case
# decides what a name is: words opening with a capital and a small letter ("OpenAI's chief scientist" is
# an office, "CEO" too).
_NAME_WORD = r"[A-Z][a-z][A-Za-z.'’-]*"  # Latin letters only: \w would run on into Chinese ("OpenAI的营运长")
_WHO_IS_NAMED = re.compile(
    rf"^\W*[Ww]ho (?:is|was) {_NAME_WORD}(?: {_NAME_WORD}){{0,3}}\s*\??\s*$|^\W*{_NAME_WORD}(?: {_NAME_WORD}){{0,3}}\s*是谁[?？]?\s*$"
    r"|^\W*[\u4e00-\u9fff]{1,6}·[\u4e00-\u9fff]{1,8}\s*是谁[?？]?\s*$"
)
DESCRIPTION = AnswerType("description", "who someone is", _WHO_IS_NAMED, re.compile(r"(?!)"), checkable=False)


def fold(text: str) -> str:
    """What the tables match: NFKC (full-width digits and letters become ASCII), Simplified Chinese."""
    return to_simplified(unicodedata.normalize("NFKC", text))


@lru_cache(maxsize=4096)
def expected_type(question: str) -> AnswerType | None:
    """The type ``question`` asks for, or None (why, how, what happened …)."""
    folded = fold(question)
    if _WHO_IS_NAMED.search(folded):
        return DESCRIPTION
    if _PERSON_FIRST.search(folded) and not _COUNT.search(folded):
        return PERSON
    return next((kind for kind in ASKED if kind.asked_by.search(folded)), None)


@lru_cache(maxsize=4096)
def values(kind: AnswerType, text: str) -> frozenset[str]:
    """The values of ``kind`` that ``text`` holds, as written there after ``fold``. Cached: the judge
    reads every candidate sentence, then the answer reads the cited one and its spans again (a place
    runs jieba's tagger)."""
    folded = fold(text)
    found = {match.group(0).strip() for match in kind.found_in.finditer(folded)}
    if kind.found_by is not None:
        found.update(kind.found_by(folded))
    return frozenset(value for value in found if value)


# A value said with a word of how near it is keeps it ("近4倍", "超过100万", "大约30名", "快7年"), not with one of
# emphasis (高达: "高达12位" answers "12位"). A count keeps its ordinal and its measure word or currency
# ("4名", "500 多名", "第26届", "2部", "44美元"), and is cut out only with one or before a word's end: the
# 四 of 四川 and the 300 of "300公厘" (a unit the list lacks) are no answers by themselves. Texts are
# folded to Simplified first.
_DEGREE = re.compile(r"(?:大约|大概|约为|约|超过|逾|(?<![最将接])近|接近|将近|(?<![很])快|差不多|几乎|至少|不到|不足)\s*第?\s*$")
_MEASURE = re.compile(
    rf"\s*(?:多|余)?\s*[万亿千百]?\s*(?:{_CURRENCY}|%|[个名位人家次倍件项条篇张台款座所岁分部本首场届种层辆架艘颗只头匹轮期章集幅册门间户枚句页])",
    re.IGNORECASE,
)
_ORDINAL = re.compile(r"第\s*$")
_AMOUNT_REST = re.compile(r"[\d,.]*\s*(?:billion|million|trillion|bn|[万亿千百])?", re.IGNORECASE)  # "$6" of "$6.6 billion"
_NUMERAL = re.compile(rf"[\d{_CN_DIGIT}十百千万亿]")
# Quantities (and years: "2002年时" answers "哪一年" with "2002年") whose values can be cut out of a
# longer span; a time's words around its digits are part of it ("当地时间11月19日清晨"). A share's
# pattern finds its mark ("%", "分之"): its value is found by ``_SHARE_VALUE``, the number with its
# mark ("奥尔特曼7%" answers "多少股权" with "7%").
TRIMMED = frozenset({"age", "money", "duration", "number", "share", "year"})
_SHARE_VALUE = re.compile(rf"{_NUMBER}\s*(?:%|\s*percent\b)|百分之\s*{_CN_NUMBER}(?:点{_CN_NUMBER})?|{_NUMBER}\s*成(?![立员員功为為])"
                          rf"|[{_CN_DIGIT}十]+\s*分之\s*{_CN_NUMBER}|一半|半[数數]", re.IGNORECASE)  # fmt: skip
# A word of how near after a value belongs to it too ("7%左右", "1700名以上")
_AFTER = re.compile(r"\s*(?:左右|以上|以下|上下)")


def value_bounds(kind: AnswerType, text: str) -> list[tuple[int, int]]:
    """Where ``text`` writes values of ``kind`` (``TRIMMED`` kinds), each with its number, a word of
    nearness before it, a count's ordinal and measure word; none when folding changes the text's
    length (offsets in the folded text are then not the text's)."""
    folded = fold(text)
    if kind.name not in TRIMMED or len(folded) != len(text):
        return []
    bounds = []
    for match in (_SHARE_VALUE if kind.name == "share" else kind.found_in).finditer(folded):
        start, end = match.span()
        if bounds and start < bounds[-1][1]:
            continue  # inside the value before it, as extended ("百" of "数百名")
        if kind.name == "year" and folded[end : end + 1] == "代":
            continue  # "1990年代" is a decade, not the year 1990
        if folded[end - 1 : end].isdigit():
            end = _AMOUNT_REST.match(folded, end).end()  # type: ignore[union-attr]
        if kind.name == "number":
            if measure := _MEASURE.match(folded, end):
                end = measure.end()
            elif end < len(folded) and "\u4e00" <= folded[end] <= "\u9fff":
                continue  # inside a word, or before a unit not listed
            if ordinal := _ORDINAL.search(folded, 0, start):
                start = ordinal.start()
        if degree := _DEGREE.search(folded, 0, start):
            start = degree.start()
        if after := _AFTER.match(folded, end):
            end = after.end()
        while end > start and folded[end - 1].isspace():
            end -= 1
        if _NUMERAL.search(folded, start, end):
            bounds.append((start, end))
    return bounds


def holds(kind: AnswerType, text: str) -> bool:
    """Whether ``text`` holds a value of ``kind``."""
    return bool(values(kind, text))


def given(value: str, asked: str) -> bool:
    """Whether a question (``asked``: folded by ``fold``) already gives ``value`` (a value of its text,
    folded too): it writes it, or the same amount in another script ("1500亿美元" of "$150 billion")."""
    return value in asked or same_amount(value, asked)


def missing_type(question: str, text: str) -> AnswerType | None:
    """The type the question asks for, when ``text`` holds no value of it that the question does not
    already give (only checkable types): the 4 of "GPT-4o" answers no "how many", the 美国 of "美国哪个州"
    no "which state", the 1500亿美元 of an article no "at a $150 billion valuation"."""
    kind = expected_type(question)
    if kind is None or not kind.checkable:
        return None
    asked = fold(question)
    return None if any(not given(value, asked) for value in values(kind, text)) else kind

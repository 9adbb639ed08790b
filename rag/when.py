"""Answers that know when: the period a question asks about, and the time each passage speaks of.

News is about time: who led OpenAI on 17 November 2023 and on 22 November are different people. A
question that names a time ("2023年11月", "in 2017") prefers evidence from then; one about a state that
changes ("现任", "目前", "now", "currently", or who holds an office, asked with no time) prefers the
newest. The time a passage speaks of is the latest date or year it states itself, else (a cited
sentence) the one its paragraph stated before it, else its article's publication date
(``Document.published``); for a question about now the answer is the newest of the
sentences chosen, and the others follow newest first; for one that names a time, those from then
come first (each citation carries its time). A month of a year ("2024 年 5 月") is that month, and a
range of years ("2017年至2018年间") is the range.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from rag.answer_types import fold
from rag.chunk import split_sentences
from rag.clean import to_simplified
from rag.dates import find_dates
from rag.retrieve import Ranking

_CURRENT = re.compile(r"现任|目前|现在|如今|当前|最新|最近|仍然|还是|至今|\b(?:now|current(?:ly)?|today|latest|these days|still|at present)\b",
                      re.IGNORECASE)  # fmt: skip
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
# A statement about the present in an article ("仍然", "目前", "still"): narrower than ``_CURRENT``,
# whose "还是" and "最近" read as "now" in a question but not in a sentence ("还是" is also "or").
_PRESENT = re.compile(r"仍然|仍是|仍在|目前|现在|如今|至今|现任|\b(?:now|currently|still)\b", re.IGNORECASE)
# Who holds an office, asked with no time and in the present ("OpenAI的首席技术官是谁?", "Who is OpenAI's
# chief scientist?"), asks who holds it now (issue 28: "or no time given"). Only the whole question in
# that form: a clause before it ("风波期间,…"), "was", "时任", "将" or "曾" sets another time. Of dev's
# 13 questions about a time, one is such a question that no time word marked (t-004-05).
_OFFICE = (r"(?:首席[\w]{1,6}?官|首席科学家|CEO|CTO|CFO|COO|CISO|董事长|总裁|主席|执行长|技术长|总经理|负责人|掌门人"
           r"|chief(?: [a-z]+){1,3}|president|chair(?:man|woman|person)?|head(?: of [a-z ]+?)?|director(?: of [a-z ]+?)?)")
_OFFICE_NOW = re.compile(
    rf"^[^,，;；]{{0,16}}?{_OFFICE}(?:是谁|是哪位|为谁|由谁担任)[?？]?$"
    rf"|^(?:谁|哪位)是[^,，;；]{{0,16}}?{_OFFICE}[?？]?$"
    rf"|^who(?:'s|’s| is| are) (?:the )?(?:[\w.&-]+(?: [\w.&-]+)?(?:'s|’s) )?(?:new )?{_OFFICE}(?: (?:of|at) [\w.&'’ -]+?)?[?？]?$",
    re.IGNORECASE,
)
_OTHER_TIME = re.compile(r"时任|当时|那时|那场|那次|曾|将|前任|首任|第一任|原任|以前|之前|\b(?:former|first|then|previous|next)\b", re.IGNORECASE)
_YEAR_MONTH = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*年\s*(\d{1,2})\s*月|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+((?:19|20)\d\d)\b",
                         re.IGNORECASE)  # fmt: skip
_YEARS_RANGE = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*年?\s*(?:至|到|－|-|–|~|～|\bto\b|\band\b|\bthrough\b)\s*((?:19|20)\d\d)(?!\d)", re.IGNORECASE)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclass(frozen=True)
class Asked:
    """What a question says about time: a period (ISO prefix: "2017", "2023-11", "2023-11-20"), or
    that it asks about now; neither for most questions."""

    period: str | None = None
    current: bool = False
    through: str | None = None  # a range of years ("2017年至2018年间", "from 2019 to 2020") ends with this one


def asked(question: str) -> Asked:
    folded = fold(question)
    dates = find_dates(folded)
    if dates and dates[0].year_from == "stated":
        return Asked(period=dates[0].iso)
    if span := _YEARS_RANGE.search(folded):
        return Asked(period=span.group(1), through=span.group(2))
    if months := _year_months(folded):
        return Asked(period=months[0])
    if match := _YEAR.search(folded):
        return Asked(period=match.group(1))
    office_now = bool(_OFFICE_NOW.search(folded.strip())) and not _OTHER_TIME.search(folded)
    return Asked(current=bool(_CURRENT.search(folded)) or office_now)


# "OpenAI前首席科学家Ilya Sutskever", "former chief scientist": a text that gives the office asked about
# as someone's former one speaks of a past holder, whatever its date
_FORMER = r"(?:前任?|原|曾任|former|ex-)\s*(?:[A-Za-z]+\s*)?"


def names_former(text: str, question: str) -> bool:
    """Whether ``text`` gives the office ``question`` asks about as someone's former office."""
    folded_question = fold(question)
    office = re.search(_OFFICE, folded_question, re.IGNORECASE)
    if office is None:
        return False
    named = " ".join(office.group(0).split()[:2])  # "chief scientist now" of "Who is the chief scientist now?"
    folded = fold(text)
    return re.search(_FORMER + re.escape(named), folded, re.IGNORECASE) is not None


def spoken_of(text: str, fallback: str | None, before: str = "") -> str | None:
    """The time a text speaks of: the latest of ``times_spoken_of``."""
    return max(times_spoken_of(text, fallback, before), default=None)


def times_spoken_of(text: str, fallback: str | None, before: str = "") -> list[str]:
    """The times a text speaks of: the full dates, months and years it states (ISO prefixes), else the time
    the nearest sentence before it in its paragraph (the end of ``before``, the text up to it) that
    states one states, else
    ``fallback`` (its article's date). A paragraph that sets a time goes on in it: "至2017年初他們已擁有45名
    員工。…時任CTO為格雷格·布羅克曼" speaks of 2017, not of the article's 2024. A text that says it describes
    the present ("奥尔特曼仍然是OpenAI的CEO,在2023年11月经历短暂被解雇后回归公司") speaks of its
    article's date, whatever earlier year it mentions."""
    folded = unicodedata.normalize("NFKC", text)
    stated = _stated(folded)
    if fallback and _PRESENT.search(to_simplified(folded)):
        stated.append(fallback)
    if stated:
        return stated
    paragraph = unicodedata.normalize("NFKC", before[before.rfind("\n") + 1 :])
    for start, end in reversed(split_sentences(paragraph)):
        if earlier := _stated(paragraph[start:end]):
            return [max(earlier)]
    return [fallback] if fallback else []


def _stated(folded: str) -> list[str]:
    """The full dates, months of a year and years ``folded`` states (ISO prefixes): "2024 年 5 月"
    speaks of 2024-05, not of all 2024 (a question about September 2024 is not answered by it)."""
    return [d.iso for d in find_dates(folded) if d.year_from == "stated"] + _year_months(folded) + _YEAR.findall(folded)


def _year_months(folded: str) -> list[str]:
    """The months of a year ``folded`` states ("2023年11月", "Nov 2023"), as ``YYYY-MM``, in order."""
    found = []
    for match in _YEAR_MONTH.finditer(folded):
        year, month = (match.group(1), int(match.group(2))) if match.group(1) else (match.group(4), _MONTHS.index(match.group(3).lower()) + 1)
        if 1 <= month <= 12:
            found.append(f"{year}-{month:02d}")
    return found


def _in_period(question: Asked, time: str | None) -> bool:
    """Whether ``time`` agrees with the asked period, a coarser time included (2023 for 2023-11)."""
    if question.through is not None:
        return speaks_of_then(question, time)
    return question.period is not None and matches(question.period, time)


def matches(period: str, time: str | None) -> bool:
    """Whether ``time`` falls in ``period`` (both ISO prefixes; the shorter decides)."""
    if time is None:
        return False
    length = min(len(period), len(time))
    return period[:length] == time[:length]


def speaks_of_then(question: Asked, time: str | None) -> bool:
    """Whether ``time`` falls in the period ``question`` asks about at least as precisely as asked:
    2023-11-20 for 2023-11, any time of 2018 for 2017–2018; not 2023 for 2023-11 (a sentence stating
    only the year may speak of another month of it)."""
    if question.period is None or time is None:
        return False
    if question.through is not None:
        return question.period <= time[:4] <= question.through
    return matches(question.period, time) and len(time) >= len(question.period)


def rerank_by_time(ranking: Ranking, question: Asked, passages: int, period_weight: float, recency_weight: float) -> Ranking:
    """The top ``passages`` re-scored by the time they speak of (``spoken_of``): + ``period_weight``
    when it falls in the period asked about; for a question about now, + ``recency_weight`` × its place
    from oldest (0) to newest (1) among them. The others keep their order and scores."""
    if question.period is None and not question.current:
        return ranking
    top = ranking.candidates[:passages]
    times = []
    for candidate in top:
        chunk = ranking.chunks[candidate.chunk_id]
        document = ranking.documents[chunk.doc_id]
        times.append(spoken_of(ranking.text(chunk), document.published))
    if question.period is not None:
        bonus = [period_weight * _in_period(question, time) for time in times]
    else:
        known = sorted({time for time in times if time})
        bonus = [recency_weight * (known.index(time) / (len(known) - 1) if time and len(known) > 1 else 0.0) for time in times]
    rescored = [replace(candidate, score=candidate.score + extra) for candidate, extra in zip(top, bonus, strict=True)]
    rescored.sort(key=lambda c: -c.score)  # stable: ties keep the order they had
    return replace(ranking, candidates=rescored + ranking.candidates[passages:])

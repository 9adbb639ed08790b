"""Dates as Chinese news writes them, read into ISO dates (``YYYY-MM-DD``).

Formats (after NFKC, so full-width digits count as ASCII): ``2023年11月21日`` with or without spaces
between the digits and 年/月/日, Chinese numerals (``二〇二三年十一月二十一日``), Taiwan's Republic
years (``民國112年``, ``112年11月21日`` on a Traditional site), ``2023-11-21``, ``2023/11/21``,
``2023.11.21``, English (``November 21, 2023``, ``21 Nov 2023``), and a month and a day without a
year (``9月26日``, ``09/13 11:20``), whose year is taken from the article itself: the latest year it
mentions that is not after the reference date (the day the article was added), else the reference
date's year — and the date says how it got its year.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

_CN_DIGITS = {"〇": 0, "零": 0, "○": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN = "〇零○一二两兩三四五六七八九十"
_MONTHS = {name: number for number, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"), ("jul", "july"),
     ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"), ("dec", "december")], start=1)
    for name in names}  # fmt: skip
_MONTH_NAME = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_PATTERNS = (  # (kind, pattern): the groups are named year/month/day
    ("full", re.compile(r"(?:民[国國]\s*)?(?P<year>\d{2,4}|[〇零○一二三四五六七八九]{4})\s*年\s*(?P<month>\d{1,2}|[" + _CN + r"]{1,2})\s*月\s*"
                        r"(?P<day>\d{1,2}|[" + _CN + r"廿卅]{1,3})\s*[日号號]")),
    ("full", re.compile(r"(?<![\d.])(?P<year>(?:19|20)\d\d)\s*(?P<sep>[-/.])\s*(?P<month>\d{1,2})\s*(?P=sep)\s*(?P<day>\d{1,2})(?![\d.])")),
    ("full", re.compile(rf"\b{_MONTH_NAME}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d\d)\b", re.IGNORECASE)),
    ("full", re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH_NAME},?\s+(?P<year>(?:19|20)\d\d)\b", re.IGNORECASE)),
    ("month-day", re.compile(r"(?<![\d年])(?P<month>\d{1,2}|[" + _CN + r"]{1,2})\s*月\s*(?P<day>\d{1,2}|[" + _CN + r"廿卅]{1,3})\s*[日号號]")),
    ("month-day", re.compile(r"(?<![\d/.])(?P<month>\d{1,2})/(?P<day>\d{1,2})\s+\d{1,2}:\d{2}(?![\d/])")),
)
_YEARS = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*年|\b((?:19|20)\d\d)\b")
ROC_OFFSET = 1911  # 民國 1 = 1912


@dataclass(frozen=True)
class StatedDate:
    """A date found in a text: ``iso`` (YYYY-MM-DD), the words as stated, and how its year was known."""

    iso: str
    stated: str
    year_from: str = "stated"  # or how it was inferred, in words


def chinese_number(text: str) -> int | None:
    """一 … 九十九, 廿 and 卅, or digits; None for anything else."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if text and all(c in _CN_DIGITS for c in text) and len(text) == 4:  # 二〇二三: digit by digit
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    text = text.replace("廿", "二十").replace("卅", "三十")
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS.get(tens, -100) if tens else 1) * 10 + (_CN_DIGITS.get(ones, -100) if ones else 0)
    return _CN_DIGITS.get(text) if len(text) == 1 else None


def _year(value: str, stated: str) -> int | None:
    number = chinese_number(value)
    if number is None:
        return None
    if number < 200 and ("民" in stated or len(value) <= 3):  # 民國112年 / 112年 on a Taiwanese site
        return number + ROC_OFFSET
    return number if 1900 <= number <= 2100 else None


def _month(value: str) -> int | None:
    return _MONTHS.get(value.lower().rstrip(".")) if value[:1].isalpha() and value.isascii() else chinese_number(value)


def _valid(year: int, month: int | None, day: int | None) -> date | None:
    if month is None or day is None:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def find_dates(text: str, reference: date | None = None) -> list[StatedDate]:
    """Every date stated in ``text``, in order; a date without a year gets the year the article itself
    suggests (``infer_year``)."""
    folded = unicodedata.normalize("NFKC", text)
    found: list[tuple[int, StatedDate]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(folded):
            if any(start < match.end() and match.start() < end for start, end in taken):
                continue  # a longer format already read these characters
            groups = match.groupdict()
            month_text = groups.get("month") or next((g for g in match.groups() if g and g[:1].isalpha()), "")
            month, day = _month(month_text), chinese_number(groups["day"])
            stated = match.group(0).strip()
            if kind == "full":
                year = _year(groups["year"], stated)
                when = _valid(year, month, day) if year is not None else None
                how = "stated"
            else:
                year, how = infer_year(folded, reference)
                when = _valid(year, month, day)
            if when is not None:
                taken.append(match.span())
                found.append((match.start(), StatedDate(when.isoformat(), stated, how)))
    return [stated for _, stated in sorted(found, key=lambda item: item[0])]


def infer_year(text: str, reference: date | None = None) -> tuple[int, str]:
    """The year of a date stated without one: the latest year the article mentions that is not after
    ``reference`` (default: today), else ``reference``'s year; and how it was chosen, in words."""
    reference = reference or date.today()
    years = sorted({int(a or b) for a, b in _YEARS.findall(text) if 1900 <= int(a or b) <= reference.year})
    if years:
        return years[-1], f"the latest year the article mentions ({years[-1]})"
    return reference.year, f"the year it was added ({reference.year}): the article mentions none"


def publication_date(text: str, reference: date | None = None, head: int = 1500) -> StatedDate | None:
    """The article's own date: the first date stated in its head (a dateline, a byline)."""
    found = find_dates(text[:head], reference)
    if not found:
        return None
    first = found[0]
    if first.year_from != "stated":  # the year comes from the whole article, not from its head
        year, how = infer_year(text, reference)
        month, day = int(first.iso[5:7]), int(first.iso[8:10])
        when = _valid(year, month, day)
        return StatedDate(when.isoformat(), first.stated, how) if when else None
    return first


def parse_iso(value: object) -> date:
    """A date given by a user (``--date``, the API's field): ``YYYY-MM-DD``; ``ValueError`` saying what is wrong."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise ValueError(f"a date is written YYYY-MM-DD (e.g. 2024-09-26), not {value!r}")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is no date of the calendar") from None

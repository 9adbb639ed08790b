"""How much a written quantity is, whatever its script: "1500亿美元", "1,500 億", "一千五百亿" and "$150
billion" are one amount. The answer rules ask whether a value is one the question already gives: an
English question over Chinese articles writes its amounts in English words ("How much was OpenAI
seeking at a $150 billion valuation?"), the articles in 万/亿, so comparing the written forms took
the valuation the question states for its answer (b-002-01). Chinese numerals are read by cn2an; the
scale words after a number (万, 亿, 万亿, billion …) are multiplied here, as cn2an reads "1.05万亿" not.
Tests: ``tests/rag/test_amounts.py``.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from types import ModuleType

_SCALES = {"百": 1e2, "千": 1e3, "万": 1e4, "萬": 1e4, "亿": 1e8, "億": 1e8, "thousand": 1e3, "million": 1e6, "billion": 1e9,
           "bn": 1e9, "trillion": 1e12}  # fmt: skip
_CN_NUMERAL = "〇零○一二两兩三四五六七八九十百千万萬亿億"
_QUANTITY = re.compile(
    # not a model's number: the 4 of "GPT-4o" is no quantity
    rf"(?<![A-Za-z0-9.-])(?P<number>\d[\d,]*(?:\.\d+)?|[{_CN_NUMERAL}]+)"
    r"\s*(?P<scale>(?:[百千万萬亿億]\s*)+|(?:thousand|million|billion|trillion|bn)\b)?",
    re.IGNORECASE,
)
_PLACES = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")  # "1,500": a comma that groups thousands


@lru_cache(maxsize=8192)
def amounts(text: str) -> frozenset[float]:
    """The quantities ``text`` writes, each as one number. One Chinese numeral alone is none: it is more
    often part of a word (一样, 唯一, 四大天王) than a count."""
    found = set()
    for match in _QUANTITY.finditer(text):
        written, scale = match.group("number"), match.group("scale")
        if len(written) == 1 and not scale and not written.isdigit():
            continue
        value = _number(written)
        if value is None:
            continue
        for word in re.findall(r"[百千万萬亿億]|[a-z]+", (scale or "").lower()):
            value *= _SCALES[word]
        found.add(round(value, 6))
    return frozenset(found)


def _number(written: str) -> float | None:
    if written[0].isdigit():
        if "," in written and not _PLACES.match(written):
            written = written.split(",", 1)[0]  # "3,5": a list, not a number
        return float(written.replace(",", ""))
    try:
        return float(_cn2an().cn2an(written.replace("两", "二").replace("兩", "二"), "strict"))
    except ValueError:
        return None


def words_around(text: str) -> str:
    """``text`` without the quantities it writes: what a value says besides its amount ("美元" of "1500亿美元")."""
    return _QUANTITY.sub("", text)


@cache
def _cn2an() -> ModuleType:
    """cn2an, imported when a Chinese numeral is first read: its import builds its tables (0.11–0.15 s
    here, a twentieth of a cold start) and most commands, and most first questions, read none."""
    import cn2an

    return cn2an


def same_amount(value: str, text: str) -> bool:
    """Whether every quantity ``value`` writes is one ``text`` writes too, in whatever script (False
    when ``value`` writes none)."""
    written = amounts(value)
    return bool(written) and written <= amounts(text)

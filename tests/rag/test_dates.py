"""Dates as Chinese news writes them, read into ISO dates: a table of formats, years inferred from the
article, and the seed articles' own dates."""

from __future__ import annotations

from datetime import date

import pytest

from date_formats import FORMATS
from rag.dates import chinese_number, find_dates, infer_year, parse_iso, publication_date

REFERENCE = date(2026, 12, 6)


@pytest.mark.parametrize(("stated", "iso"), FORMATS)
def test_a_date_in_each_format_of_chinese_news(stated, iso):
    text = f"据报道,{stated},公司在2024年宣布了这一消息。"
    (found, *_) = find_dates(text, REFERENCE)
    assert (found.iso, found.stated) == (iso, unicode_stated(stated))


def unicode_stated(stated: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKC", stated).strip()


@pytest.mark.parametrize("text", ["2023年2月30日", "2023年13月1日", "13/45 10:00", "第2023号文件", "十月围城", "公司成立于2015年"])
def test_what_is_no_date_of_the_calendar_is_not_one(text):
    assert find_dates(text, REFERENCE) == []


def test_a_year_missing_from_the_date_is_the_articles_latest_year_not_after_the_day_it_was_added():
    assert infer_year("公司2015年成立,2019年改制,2024年融资。", REFERENCE) == (2024, "the latest year the article mentions (2024)")
    assert infer_year("他在2030年的计划。", REFERENCE)[0] == 2026  # a year in the future is a plan, not the article's
    assert infer_year("没有年份。", date(2025, 3, 1)) == (2025, "the year it was added (2025): the article mentions none")


def test_chinese_numerals():
    assert [chinese_number(t) for t in ("十", "十一", "二十", "二十六", "廿六", "卅一", "九", "二〇二三", "12", "百")] == [10, 11, 20, 26, 26, 31, 9, 2023, 12, None]


def test_the_seed_articles_dates():
    from conftest import CORPUS

    dates = {path.name[:3]: publication_date(path.read_text(encoding="utf-8"), REFERENCE) for path in sorted(CORPUS.glob("*.txt"))}
    assert dates["001"].iso == "2023-11-21" and dates["001"].year_from == "stated"
    assert dates["002"].iso == "2024-09-13" and dates["002"].stated == "09/13 11:20" and "2024" in dates["002"].year_from
    assert dates["004"].iso == "2024-09-26" and dates["004"].stated == "9月26日"
    assert dates["000"] is None and dates["003"] is None  # they state none in their heads


@pytest.mark.parametrize(("value", "message"), [("2024-13-01", "no date of the calendar"), ("2024-02-30", "no date of the calendar"),
                                                ("26/09/2024", "YYYY-MM-DD"), (20240926, "YYYY-MM-DD"), ("", "YYYY-MM-DD")])  # fmt: skip
def test_a_users_date_must_be_a_real_iso_date(value, message):
    with pytest.raises(ValueError, match=message):
        parse_iso(value)
    assert parse_iso(" 2024-09-26 ") == date(2024, 9, 26)

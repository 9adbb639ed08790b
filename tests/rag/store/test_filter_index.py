"""A view's filter index: the dated documents in date order, each source's documents, and filters
resolved through it exactly as ``Filter.admits`` defines them."""

from __future__ import annotations

import random

from rag.document import DocumentSummary
from rag.query import validate_filter
from rag.store.base import StoredDocument
from rag.store.filter_index import FilterFields, FilterIndex


def test_the_index_orders_the_dated_documents_and_groups_the_sources():
    index = FilterIndex.of([FilterFields("a", "新智元", "2024-09-26"), FilterFields("b", None, "2023-11-21"), FilterFields("c", "虎嗅網", None),
                            FilterFields("d", "虎嗅網", "2024-09-26"), FilterFields("e", "新智元", "2024-01-05")])  # fmt: skip
    assert index.dates == ("2023-11-21", "2024-01-05", "2024-09-26", "2024-09-26") and index.dated == ("b", "e", "a", "d")
    assert index.by_source == {"新智元": ("a", "e"), "虎嗅網": ("c", "d")} and set(index.documents) == set("abcde")
    assert index.published("2024-01-05", "2024-09-26") == ("e", "a", "d")  # both ends inclusive
    assert index.published(None, "2024-01-04") == ("b",) and index.published("2024-09-27", None) == ()
    assert index.published(None, None) == ("b", "e", "a", "d")  # c has no date
    assert index.from_sources(["虎嗅網", "新智元", "虎嗅網", "无"]) == ["c", "d", "a", "e"]


def test_a_stored_documents_filter_fields_are_its_summarys():
    entry = {"id": "001_86f1", "file": "001.txt", "title": "t", "script": "zh-Hans", "source": "虎嗅網", "date": "2023 年 11 月 21 日",
             "published": "2023-11-21"}  # fmt: skip
    for stored in (StoredDocument(entry, "", 1, "", ""), StoredDocument({k: v for k, v in entry.items() if k not in ("source", "published")}, "", 1, "", "")):
        summary: DocumentSummary = stored.summary()
        assert stored.filter_fields() == (summary.id, summary.source, summary.published)


def test_a_filter_through_the_index_admits_exactly_what_admits_defines():
    """Random collections (undated articles, unknown sources, shared dates) and random filters."""
    rng = random.Random(28)
    days = [f"2024-0{month}-{day:02d}" for month in range(1, 4) for day in (1, 15, 28)]
    for _ in range(50):
        documents = [FilterFields(f"d{n}", rng.choice(["新智元", "虎嗅網", "中央社", None]), rng.choice([*days, None]))
                     for n in range(rng.randint(1, 60))]  # fmt: skip
        index = FilterIndex.of(documents)
        for _ in range(20):
            since, until = sorted(rng.sample(days, 2))
            narrowed = validate_filter(since=rng.choice([since, None]), until=rng.choice([until, None]),
                                       sources=rng.sample(["新智元", "虎嗅網", "中央社", "无"], rng.randint(0, 2)),
                                       documents=[d.id for d in rng.sample(documents, min(len(documents), rng.randint(0, 3)))])  # fmt: skip
            expected = None if narrowed.empty else {d.id for d in documents if narrowed.admits(d)}
            assert narrowed.allowed(index) == expected, narrowed

"""rag_eval.filter_bench: a synthetic archive in date order, both resolutions of each filter agreeing
on it, and its Milvus expressions."""

from __future__ import annotations

from rag_eval.filter_bench import markdown, run, stored_documents


def test_the_synthetic_archive_is_in_date_order_with_a_few_undated_articles():
    documents = stored_documents(2_000)
    dates = [d.entry["published"] for d in documents if d.entry["published"] is not None]
    assert dates == sorted(dates) and 20 < len(documents) - len(dates) < 200
    assert len({d.id for d in documents}) == 2_000 and len({d.entry["source"] for d in documents}) == 40


def test_each_filter_is_resolved_alike_both_ways_and_reported():
    report = run(2_000)  # asserts the two resolutions agree
    assert [row["filter"] for row in report["filters"]][:2] == ["a month", "since 2020 (half)"]
    assert {row["admits"] for row in report["filters"] if row["filter"].startswith("three documents")} <= {2, 3}
    assert "| filter | admits |" in markdown(report) and "2,000 documents" in markdown(report) and "| every key listed |" in markdown(report)
    month = report["filters"][0]  # in date order, a month's keys are runs: shorter than listing them
    assert sum(month["in_order_chars"]) < month["listed_chars"] and len(month["no_order_chars"]) == 1

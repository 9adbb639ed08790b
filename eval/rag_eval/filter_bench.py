"""What resolving a question's filter costs at archive size (``Assistant.ask(since=…, sources=…)``):
the documents it admits found by walking every stored document of the view, as each filtered
question did before issue 28's follow-up, and through the view's filter index, built once a
generation (``rag.store.filter_index``); both in one process over one synthetic view, so the ratio
holds whatever the machine's load. And the filter expression a Milvus search sends for it
(``rag.store.milvus.expression``), against every admitted key listed, as it was.

    python -m rag_eval.filter_bench --documents 100000

Past the facade: it times ``rag.query.Filter`` against stored documents made up here
(``rag.store.base``); an ``Assistant`` over 100k documents would embed them all first.
"""

from __future__ import annotations

import argparse
import random
import statistics
import timeit
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np

from rag.query import Filter, validate_filter
from rag.store.base import StoredDocument
from rag.store.filter_index import FilterIndex
from rag.store.milvus.expression import document_filters

SOURCES = 40
UNDATED = 0.05  # articles whose date is unknown
FIRST_DAY, DAYS = date(2015, 1, 1), 3_800  # to mid-2025


def stored_documents(count: int, seed: int = 28) -> list[StoredDocument]:
    """``count`` articles over ten years from ``SOURCES`` sources, in the order an archive adds them:
    by date, a few undated ones among them."""
    rng = random.Random(seed)
    days = sorted(FIRST_DAY + timedelta(days=rng.randrange(DAYS)) for _ in range(count))
    documents = []
    for number, day in enumerate(days):
        doc_id = f"{number:06d}_{rng.getrandbits(64):016x}"
        entry = {"id": doc_id, "file": f"{doc_id}.txt", "title": f"标题 {number}", "script": "zh-Hans", "source": f"来源{rng.randrange(SOURCES)}",
                 "date": None, "published": None if rng.random() < UNDATED else day.isoformat(), "date_basis": "text"}  # fmt: skip
        documents.append(StoredDocument(entry, "0" * 16, 1_000, "0" * 64, ""))
    return documents


def walked(narrowed: Filter, documents: list[StoredDocument]) -> frozenset[str]:
    """The filter resolved as ``Assistant.explain`` did until the filter index: every stored
    document summarised and tested, every question."""
    summaries = [stored.summary() for stored in documents]
    known = {summary.id for summary in summaries}
    assert set(narrowed.documents) <= known
    return frozenset(summary.id for summary in summaries if narrowed.admits(summary))


def _median_ms(function: Callable[[], object], repeat: int) -> float:
    return statistics.median(timeit.repeat(function, number=1, repeat=repeat)) * 1000


def run(count: int) -> dict[str, Any]:
    documents = stored_documents(count)
    index = FilterIndex.of(stored.filter_fields() for stored in documents)  # as a view builds it
    built_ms = _median_ms(lambda: FilterIndex.of(stored.filter_fields() for stored in documents), 3)
    some = [documents[n].id for n in (7, count // 2, count - 3)]
    filters = {"a month": validate_filter("2025-05-01", "2025-05-31"), "since 2020 (half)": validate_filter(since="2020-01-01"),
               "one source": validate_filter(sources=["来源7"]), "three documents": validate_filter(documents=some),
               "one source in 2024": validate_filter("2024-01-01", "2024-12-31", ["来源7"]),
               "three documents, since 2020": validate_filter(since="2020-01-01", documents=some)}  # fmt: skip
    # Milvus document keys: in the order the archive was written (by date), or of a bulk import in no order
    written = {stored.id: key for key, stored in enumerate(documents)}
    shuffled = dict(zip(written, np.random.default_rng(28).permutation(count).tolist(), strict=True))
    rows = []
    for name, narrowed in filters.items():
        assert walked(narrowed, documents) == narrowed.allowed(index), name
        walk_ms = _median_ms(lambda narrowed=narrowed: walked(narrowed, documents), 5)
        index_ms = _median_ms(lambda narrowed=narrowed: narrowed.allowed(index), 21)
        admitted = narrowed.allowed(index) or frozenset()
        rows.append({"filter": name, "admits": len(admitted), "walk_ms": round(walk_ms, 2), "index_ms": round(index_ms, 3),
                     "ratio": round(walk_ms / index_ms), "listed_chars": len(f"dkey in {sorted(written[i] for i in admitted)}"),
                     "in_order_chars": _expression_chars(admitted, written), "no_order_chars": _expression_chars(admitted, shuffled)})  # fmt: skip
    return {"documents": count, "index_build_ms": round(built_ms, 1), "filters": rows}


def _expression_chars(admitted: frozenset[str], keys: dict[str, int]) -> list[int]:
    """The lengths of a Milvus search's filter expressions (one a request) for these documents."""
    expressions = document_filters(np.array(sorted(keys[i] for i in admitted), dtype=np.int64), np.arange(len(keys), dtype=np.int64))
    return [len(expression) for expression in expressions or ()]


def markdown(report: dict[str, Any]) -> str:
    lines = [f"Filter resolution a question, {report['documents']:,} documents (index built once a generation: {report['index_build_ms']:,} ms)",
             "", "| filter | admits | walk every document (ms) | filter index (ms) | ratio |", "|---|---:|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {r['filter']} | {r['admits']:,} | {r['walk_ms']} | {r['index_ms']} | {r['ratio']:,}× |" for r in report["filters"]]
    lines += ["", "Its Milvus filter expression (characters; several: one request each), the archive written in date order or in none",
              "", "| filter | every key listed | date order | no order |", "|---|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {r['filter']} | {r['listed_chars']:,} | {_chars(r['in_order_chars'])} | {_chars(r['no_order_chars'])} |" for r in report["filters"]]
    return "\n".join(lines)


def _chars(lengths: list[int]) -> str:
    return " + ".join(f"{length:,}" for length in lengths) or "—"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=100_000)
    print(markdown(run(parser.parse_args().documents)))


if __name__ == "__main__":
    main()

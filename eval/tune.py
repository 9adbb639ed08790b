"""Grid search of retrieval settings on the dev split only; writes eval/reports/tuning.md.

Questions are encoded once; each setting then only re-ranks, so a grid of hundreds of points
takes about a minute. ``python -m eval.tune``.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from typing import Any

from eval.harness import GOLD, REPORTS, TOP_K, GoldQuestion, covered_evidence, load_gold, retrieval_metrics
from rag.assistant import Assistant
from rag.config import RetrievalSettings
from rag.files import write_atomic
from rag.retrieve import Query, rank

GRID = {
    "dense_weight": [0.0, 0.3, 0.6, 1.0],
    "sentence_dense_weight": [0.0, 0.3, 0.6, 1.0],
    "lexical_weight": [0.2, 0.4, 0.6, 0.8],
    "sentence_weight": [0.0, 0.25, 0.5, 1.0],
}


def score(assistant: Assistant, queries: dict[str, Query], questions: list[GoldQuestion], settings: RetrievalSettings) -> dict[str, float]:
    covered = {}
    for question in questions:
        ranking = rank(assistant.index, queries[question.id], settings, TOP_K)
        chunks = [assistant.index.chunks[c.chunk_id] for c in ranking.candidates]
        covered[question.id] = covered_evidence([(c.doc_id, c.start, c.end) for c in chunks], question.evidence)
    return retrieval_metrics(covered, {q.id: len(q.evidence) for q in questions}, ["mrr@10", "recall@5"])


def tune() -> list[dict[str, Any]]:
    assistant = Assistant.load()
    questions = [q for q in load_gold(GOLD, assistant.index.documents) if q.answerable and q.split == "dev"]
    queries = {q.id: assistant.query(q.question) for q in questions}
    english = [q for q in questions if q.lang == "en"]
    rows = []
    for values in itertools.product(*GRID.values()):
        params = dict(zip(GRID, values, strict=True))
        if params["dense_weight"] == params["sentence_dense_weight"] == 0:
            continue
        settings = replace(assistant.settings.retrieval, **params)
        overall = score(assistant, queries, questions, settings)
        rows.append(params | overall | {"en_mrr@10": score(assistant, queries, english, settings)["mrr@10"]})
    rows.sort(key=lambda row: (-row["mrr@10"], -row["recall@5"]))
    return rows


def main() -> None:
    rows = tune()
    header = [*GRID, "mrr@10", "recall@5", "en_mrr@10"]
    lines = ["# Fusion tuning on the dev split", "", "`python -m eval.tune`; the 15 best of "
             f"{len(rows)} settings by MRR@10 (test questions never seen).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]  # fmt: skip
    lines += ["| " + " | ".join(str(row[key]) for key in header) + " |" for row in rows[:15]]
    write_atomic(REPORTS / "tuning.md", ("\n".join(lines) + "\n").encode())
    write_atomic(REPORTS / "tuning.json", json.dumps(rows, indent=1).encode())
    print("\n".join(lines))


if __name__ == "__main__":
    main()

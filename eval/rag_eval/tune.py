"""Grid search of retrieval settings on the dev split only; writes eval/reports/tuning.md.

Each question is encoded once (the assistant keeps encoded questions); each setting then only
re-ranks, so a grid of hundreds of points takes a few minutes. ``rag-eval tune``.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from rag import Assistant
from rag_eval.gold import GoldQuestion
from rag_eval.metrics import covered_evidence, retrieval_metrics
from rag_eval.paths import gold_file, reports_dir, write_whole
from rag_eval.runs import TOP_K, gold_questions

GRID = {
    "dense_weight": [0.0, 0.3, 0.6, 1.0],
    "sentence_dense_weight": [0.0, 0.3, 0.6, 1.0],
    "lexical_weight": [0.2, 0.4, 0.6, 0.8],
    "sentence_weight": [0.0, 0.25, 0.5, 1.0],
}


def score(assistant: Assistant, questions: list[GoldQuestion]) -> dict[str, float]:
    covered = {}
    for question in questions:
        passages = assistant.ask(question.question, TOP_K).passages
        covered[question.id] = covered_evidence([(p.doc_id, p.start, p.end) for p in passages], question.evidence)
    return retrieval_metrics(covered, {q.id: len(q.evidence) for q in questions}, ["mrr@10", "recall@5"])


def tune(news: Assistant) -> list[dict[str, Any]]:
    questions = [q for q in gold_questions(news, gold_file()) if q.answerable and q.split == "dev"]
    english = [q for q in questions if q.lang == "en"]
    rows = []
    for values in itertools.product(*GRID.values()):
        params = dict(zip(GRID, values, strict=True))
        if params["dense_weight"] == params["sentence_dense_weight"] == 0:
            continue
        assistant = news.with_retrieval(**params, abstain=False)
        rows.append(params | score(assistant, questions) | {"en_mrr@10": score(assistant, english)["mrr@10"]})
    rows.sort(key=lambda row: (-row["mrr@10"], -row["recall@5"]))
    return rows


def write(rows: list[dict[str, Any]]) -> str:
    header = [*GRID, "mrr@10", "recall@5", "en_mrr@10"]
    lines = ["# Fusion tuning on the dev split", "", "`rag-eval tune`; the 15 best of "
             f"{len(rows)} settings by MRR@10 (test questions never seen).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]  # fmt: skip
    lines += ["| " + " | ".join(str(row[key]) for key in header) + " |" for row in rows[:15]]
    write_whole(reports_dir() / "tuning.md", ("\n".join(lines) + "\n").encode())
    write_whole(reports_dir() / "tuning.json", json.dumps(rows, indent=1).encode())
    return "\n".join(lines)

"""Where the evaluation's data and reports live: ``eval/`` in the project (``$RAG_HOME``)."""

from __future__ import annotations

from pathlib import Path

from rag import Settings


def eval_dir() -> Path:
    return Settings().root / "eval"


def gold_file() -> Path:
    return eval_dir() / "gold.jsonl"


def reports_dir() -> Path:
    return eval_dir() / "reports"

"""Where the evaluation's data and reports live: ``eval/`` in the project (``$RAG_HOME``); writing them."""

from __future__ import annotations

from pathlib import Path

from rag import Settings


def eval_dir() -> Path:
    return Settings().root / "eval"


def gold_file() -> Path:
    return eval_dir() / "gold.jsonl"


def reports_dir() -> Path:
    return eval_dir() / "reports"


def write_whole(path: Path, data: bytes) -> None:
    """Write a report (or a cache) whole: beside it first, then renamed over it, so a run that dies
    leaves the previous file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)

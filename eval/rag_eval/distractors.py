"""The distractor setting: the seed articles among thousands of unrelated passages (issue 24).

A newsroom's archive is large, and most of it has nothing to do with a given question; the gold
set's five articles alone cannot show what that does to ranking and abstention. ``rag-eval gold
--distractors PATH`` indexes the seed articles together with every paragraph found at the given
paths (dataset folders such as ``../shared/bench/drcd``, or JSON-lines files of reading questions
whose rows have a ``context``, such as ``../shared/reader/heldout.jsonl``), each paragraph a
document of its own, once however often it appears, and scores the gold questions there too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rag import Assistant, Document, Settings
from rag_eval.datasets import Dataset, is_dataset, load_dataset, normalized_text

MIN_DOCUMENTS = 1000  # fewer are no archive: the setting's point is scale


def distractor_documents(paths: Sequence[Path]) -> list[Document]:
    """Every distinct paragraph at ``paths``, as documents ``x00000``, ``x00001`` …"""
    texts: dict[str, Document] = {}
    for path in paths:
        found = load_dataset(path).documents() if is_dataset(path) else _contexts(path)
        for document in found:
            texts.setdefault(document.text, document)
    return [Document(id=f"x{number:05d}", file="", title=d.title, script=d.script, sha256=d.sha256, text=d.text)
            for number, d in enumerate(texts.values())]  # fmt: skip


def _contexts(path: Path) -> list[Document]:
    """The paragraphs of a JSON-lines file of reading questions (``context``), as a dataset's documents
    (lines normalised as a dataset's are)."""
    if not path.is_file():
        raise ValueError(f"{path}: neither a dataset folder (passages.jsonl, queries.jsonl) nor a JSON-lines file")
    contexts: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            context = normalized_text(str(row.get("context") or row.get("text") or ""))
            if context:
                contexts.setdefault(context, str(row.get("title") or row.get("qid") or len(contexts)))
    passages = {f"{path.stem}-{n}": text for n, text in enumerate(contexts)}
    return Dataset(path.stem, passages, {pid: pid for pid in passages}, [], []).documents()


def with_distractors(news: Assistant, base: Settings, paths: Sequence[Path], encoder: object) -> tuple[Assistant, int]:
    """An evaluation collection of the seed articles and the distractors, and how many distractors."""
    distractors = distractor_documents(paths)
    if len(distractors) < MIN_DOCUMENTS:
        raise ValueError(f"{len(distractors)} distractor paragraphs at {', '.join(map(str, paths))}; the setting needs {MIN_DOCUMENTS:,} or more")
    seeds = [news.document(summary.id) for summary in news.documents()]
    settings = base.for_collection("eval-distractors")
    return Assistant.over([*seeds, *distractors], settings, encoder=encoder, progress=True), len(distractors)  # type: ignore[arg-type]

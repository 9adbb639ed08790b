"""Public QA datasets as retrieval benchmarks (CMRC 2018, DRCD): the one reader of their folder
format. A folder holds ``passages.jsonl`` (``pid``, ``title``, ``text``), ``queries.jsonl``
(``qid``, ``question``, ``pid``, ``answers``) and a README whose table gives BM25 baselines.

Past the facade: a passage is normalised line by line as the corpus normalises article lines
(``rag.clean.normalize_line``) and its script told as the corpus tells it
(``rag.corpus.detect_script``), so a benchmark's passages are indexed like articles.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from rag import Document
from rag.clean import normalize_line
from rag.corpus import detect_script


@dataclass(frozen=True)
class DatasetQuery:
    qid: str
    question: str
    pid: str  # the passage it was written from
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Dataset:
    name: str
    passages: dict[str, str]  # pid → text, one line per paragraph, normalised like article lines
    titles: dict[str, str]
    queries: list[DatasetQuery]
    baselines: list[dict[str, object]]

    def documents(self) -> list[Document]:
        return [
            Document(id=pid, file="", title=self.titles[pid], script=detect_script(text), sha256=hashlib.sha256(text.encode()).hexdigest(), text=text)
            for pid, text in self.passages.items()
        ]


def normalized_text(raw: str) -> str:
    """A passage's lines normalised as the corpus normalises article lines, the empty ones dropped."""
    return "\n".join(filter(None, (normalize_line(part) for part in raw.splitlines())))


def is_dataset(folder: Path) -> bool:
    return (folder / "passages.jsonl").is_file() and (folder / "queries.jsonl").is_file()


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _baselines(readme: Path) -> list[dict[str, object]]:
    """The BM25 rows of the README's table."""
    rows: list[dict[str, object]] = []
    if not readme.is_file():
        return rows
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[1].replace(".", "", 1).isdigit():
            metrics = ("recall@1", "recall@5", "recall@10", "mrr@10")
            rows.append({"config": f"BM25 {cells[0]}", **{m: float(v) for m, v in zip(metrics, cells[1:5], strict=True)}})
    return rows


def load_dataset(folder: Path) -> Dataset:
    passages, titles = {}, {}
    for row in _rows(folder / "passages.jsonl"):
        pid = str(row["pid"])
        passages[pid] = normalized_text(str(row["text"]))
        titles[pid] = str(row.get("title") or pid)
    queries = [
        DatasetQuery(str(row["qid"]), str(row["question"]), str(row["pid"]), tuple(str(a) for a in row.get("answers", ())))  # type: ignore[union-attr]
        for row in _rows(folder / "queries.jsonl")
    ]
    return Dataset(folder.resolve().name, passages, titles, queries, _baselines(folder / "README.md"))

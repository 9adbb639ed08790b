"""The reader's question files (one JSON object a line: ``qid``, ``question``, ``context``,
``answers`` with ``text`` and ``start``, ``source``) and the split of their articles into train and
dev, which training and scoring must draw the same way.

Articles: DRCD question ids are ``article-paragraph-n``; every CMRC 2018 paragraph (``DEV_n`` /
``TRIAL_n``) is an article of its own, as in the original files.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Question:
    qid: str
    question: str
    context: str
    answers: tuple[tuple[str, int], ...]  # (text, start)
    article: str
    source: str


def article_of(qid: str) -> str:
    if "_QUERY_" in qid:  # CMRC 2018: one paragraph per article
        return qid.split("_QUERY_")[0]
    return qid.split("-")[0]  # DRCD: article-paragraph-question


def load_question(row: dict[str, Any]) -> Question:
    answers = tuple((a["text"], a["start"]) for a in row["answers"])
    return Question(row["qid"], row["question"], row["context"], answers, article_of(row["qid"]), row["source"])


def load_questions(path: Path) -> list[Question]:
    return [load_question(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]


def split_dev(questions: Sequence[Question], share: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of (train, dev) questions; dev holds a seeded ``share`` of the articles."""
    articles = sorted({q.article for q in questions})
    random.Random(seed).shuffle(articles)
    dev = set(articles[: round(share * len(articles))])
    return [i for i, q in enumerate(questions) if q.article not in dev], [
        i for i, q in enumerate(questions) if q.article in dev
    ]

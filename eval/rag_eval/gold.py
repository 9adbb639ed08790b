"""The gold set: questions with verbatim evidence spans, located in the cleaned documents.

Relevance is chunk-independent: a returned passage is relevant when it covers at least half of an
evidence span (offsets in the cleaned document), or of a place elsewhere in the collection that
states the same fact (the span's ``also`` list). Changing chunk sizes never invalidates the gold set.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Span:
    doc_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Evidence:
    """One part of a question's answer: where the question was written from, and the other places
    in the collection that state the same fact (judged over all articles, not pooled from a system)."""

    doc_id: str
    start: int
    end: int
    also: tuple[Span, ...] = ()
    as_of: str | None = None  # when the fact holds (ISO prefix), for questions about a state that changes

    @property
    def places(self) -> tuple[Span, ...]:
        return (Span(self.doc_id, self.start, self.end), *self.also)


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    lang: str
    type: str
    paraphrase: bool
    answer: str | None
    evidence: tuple[Evidence, ...]
    topic: str | None = None  # unanswerable questions: "on" (about the articles' subjects) or "off"
    history: tuple[str, ...] = ()  # the conversation's earlier questions, oldest first
    standalone: str | None = None  # a follow-up question written out in full
    time: str | None = None  # "current", or the period asked about (ISO prefix): the first evidence is that period's

    @property
    def answerable(self) -> bool:
        return bool(self.evidence)

    @property
    def follow_up(self) -> bool:
        """A question that only makes sense after its history ("她是哪一年加入的?")."""
        return self.standalone is not None

    @property
    def split(self) -> str:
        """A fixed half of the questions is ``dev`` (for tuning), the other half ``test``."""
        return "dev" if int(hashlib.sha256(self.id.encode()).hexdigest(), 16) % 2 == 0 else "test"


def load_gold(path: Path, text_of: Callable[[str], str]) -> list[GoldQuestion]:
    """Gold questions with evidence located in the documents (``text_of(doc_id)`` gives a cleaned
    text); a span that is not exactly once in its document is an error."""
    questions = []
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)

        def locate(span: dict[str, str]) -> Span:
            text = text_of(span["doc"])
            start = text.find(span["text"])
            if start < 0 or text.find(span["text"], start + 1) >= 0:
                raise ValueError(f"{path}:{line_number}: evidence of {row['id']} is not exactly once in {span['doc']}")
            return Span(span["doc"], start, start + len(span["text"]))

        evidence = []
        for span in row["evidence"]:
            place = locate(span)
            also = tuple(locate(other) for other in span.get("also", ()))
            evidence.append(Evidence(place.doc_id, place.start, place.end, also, span.get("as_of")))
        questions.append(
            GoldQuestion(row["id"], row["question"], row["lang"], row["type"], bool(row.get("paraphrase")),
                         row.get("answer"), tuple(evidence), row.get("topic"), tuple(row.get("history", ())),
                         row.get("standalone"), row.get("time"))  # fmt: skip
        )
    return questions

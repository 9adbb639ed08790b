"""End to end on a reading-comprehension set: its questions asked of a collection of its paragraphs.

The reader's F1 (``rag_eval.reader_metrics``) is measured with the right paragraph given; a user gives
none, only a question to the whole collection. ``rag-eval reading --data FILE`` indexes ``--paragraphs``
paragraphs of FILE (a JSON-lines file of reading questions, e.g. ``../shared/reader/heldout.jsonl``), each
a document of its own, the same ones every run (the first by the SHA-256 of their text), asks every
question of them through ``Assistant.ask`` and scores what a reader sees: the span against the gold
answers (CMRC 2018's F1 and exact match, 0 when no span is shown), how often a span is shown or the
assistant abstains, whether the first passage is the question's paragraph, and whether the answer's
own sentence holds a gold answer. Nothing is tuned on it: it reports.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from rag import Answer, Assistant, Document
from rag_eval.datasets import Dataset, normalized_text
from rag_eval.metrics import quotes, span_answer


@dataclass(frozen=True)
class ReadingQuestion:
    question: str
    doc_id: str  # the paragraph asked about
    answers: tuple[str, ...]


@dataclass(frozen=True)
class ReadingResult:
    """What one question got: ``span_f1`` / ``span_exact`` 0 without a span."""

    abstained: bool
    span_shown: bool
    span_f1: float
    span_exact: float
    paragraph_first: bool
    sentence_holds_answer: bool
    latency_ms: float


def reading_sample(path: Path, paragraphs: int) -> tuple[list[Document], list[ReadingQuestion]]:
    """``paragraphs`` distinct paragraphs of the reading file at ``path`` (documents ``r0000`` …) and
    every question asked of them; the paragraphs chosen by the SHA-256 of their text, so the same
    each run and spread over the file."""
    asked: dict[str, list[tuple[str, tuple[str, ...]]]] = {}  # paragraph → (question, its answers)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            context = normalized_text(str(row["context"]))
            answers = tuple(str(answer["text"]) for answer in row.get("answers", ()) if str(answer["text"]).strip())
            if context and answers:
                asked.setdefault(context, []).append((str(row["question"]), answers))
    if len(asked) < paragraphs:
        raise ValueError(f"{path} holds {len(asked)} paragraphs with answered questions; asked for {paragraphs}")
    chosen = sorted(asked, key=lambda text: hashlib.sha256(text.encode()).hexdigest())[:paragraphs]
    ids = {text: f"r{number:04d}" for number, text in enumerate(chosen)}
    documents = Dataset(path.stem, {ids[text]: text for text in chosen}, {ids[text]: ids[text] for text in chosen}, [], []).documents()
    questions = [ReadingQuestion(question, ids[text], answers) for text in chosen for question, answers in asked[text]]
    return documents, questions


def score_answer(answer: Answer, question: ReadingQuestion, latency_ms: float) -> ReadingResult:
    """One question's result from the answer it got."""
    shown = answer.span.text if answer.span is not None and not answer.abstained else None
    f1, exact = max((span_answer(shown, gold) for gold in question.answers), default=(0.0, 0.0))
    first = answer.citations[0] if answer.citations and not answer.abstained else None
    holds = first is not None and first.doc_id == question.doc_id and any(quotes([first.text], gold) for gold in question.answers)
    paragraph_first = bool(answer.passages) and answer.passages[0].doc_id == question.doc_id
    return ReadingResult(answer.abstained, shown is not None, f1, exact, paragraph_first, holds, latency_ms)


def summarise(results: Sequence[ReadingResult]) -> dict[str, float]:
    """Means over the questions (latency: the median)."""
    def mean(values: Sequence[float]) -> float:
        return round(statistics.mean(values), 4) if values else 0.0

    return {
        "questions": len(results),
        "span_f1": mean([r.span_f1 for r in results]),
        "span_exact": mean([r.span_exact for r in results]),
        "span_shown": mean([float(r.span_shown) for r in results]),
        "span_f1_when_shown": mean([r.span_f1 for r in results if r.span_shown]),
        "abstained": mean([float(r.abstained) for r in results]),
        "paragraph_first": mean([float(r.paragraph_first) for r in results]),
        "sentence_holds_answer": mean([float(r.sentence_holds_answer) for r in results]),
        "p50_ms": round(statistics.median(r.latency_ms for r in results), 1) if results else 0.0,
    }


def evaluate_reading(assistant: Assistant, questions: Sequence[ReadingQuestion]) -> dict[str, float]:
    results = []
    for question in tqdm(questions, desc="reading questions", unit="q"):
        started = time.perf_counter()
        answer = assistant.ask(question.question, 5)
        results.append(score_answer(answer, question, (time.perf_counter() - started) * 1000))
    return summarise(results)


def markdown(data: Path, paragraphs: int, scores: dict[str, float]) -> str:
    rows = "\n".join(f"| {name} | {value} |" for name, value in scores.items())
    return (
        "# Reading end to end\n\n"
        f"`rag-eval reading --data {data.name} --paragraphs {paragraphs}`: {paragraphs} paragraphs of `{data.name}`, each a "
        "document, indexed together; each of their questions asked of the whole collection through `Assistant.ask` "
        "(`rag_eval/reading.py`). span_f1 / span_exact: the shown span against the gold answers (CMRC 2018's F1 and exact "
        "match, 0 when no span is shown); span_f1_when_shown: over the questions that got one; paragraph_first: the first "
        "passage is the question's paragraph; sentence_holds_answer: the answer's own sentence quotes a gold answer. "
        "Reported only: nothing is chosen on it.\n\n| figure | value |\n|---|---|\n" + rows + "\n"
    )

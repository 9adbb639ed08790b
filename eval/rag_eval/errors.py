"""Error analysis (``rag-eval errors``): every miss of the default assistant on one split of the gold
set, in exactly one category, so that fixes aim at categories, not at single questions (issue 24).

Answerable questions, the first category that applies:
- ``abstained: answer-type rule``: abstained because the question asks for a type the passages lack;
- ``abstained``: abstained otherwise;
- ``wrong passage``: no passage of the top five covers the evidence;
- ``right passage, wrong sentence``: one of them does, but the answer holds no evidence;
- ``evidence not in the first sentence``: the answer holds it, but its first sentence does not;
- ``right`` otherwise. Spans are judged apart: ``span wrong`` (shown, outside the evidence), ``span
  missing`` (a right answer without one).
Unanswerable questions: ``answered (on-topic)`` or ``answered (off-topic)``, else ``right``.
Tags, beside the category: ``English`` (the question's language), ``English in the evidence`` (the
evidence quotes Latin words), ``time`` (a question about a state that changes).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rag import Answer, Assistant
from rag_eval.gold import GoldQuestion
from rag_eval.metrics import covers

TYPE_RULE = "asks for"  # the reason an answer-type abstention gives ("The question asks for a year, …")
_LATIN_WORDS = re.compile(r"[A-Za-z]{3,}(?:\s+[A-Za-z]{2,}){1,}")


@dataclass(frozen=True)
class Miss:
    question: GoldQuestion
    category: str
    span: str  # "right", "wrong", "missing" or "" (no span expected: unanswerable, or the answer is wrong)
    tags: tuple[str, ...]
    answer: str
    evidence: str


def classify(question: GoldQuestion, answer: Answer, text_of: dict[str, str]) -> Miss:
    places = [place for evidence in question.evidence for place in evidence.places]
    evidence_text = " | ".join(text_of[p.doc_id][p.start : p.end] for p in places[:2])
    tags = tuple(
        tag
        for tag, applies in (
            ("English", question.lang == "en"),
            ("English in the evidence", bool(_LATIN_WORDS.search(evidence_text))),
            ("time", question.time is not None),
        )
        if applies
    )
    shown = answer.text or ""
    if not question.answerable:
        category = "right" if answer.abstained else f"answered ({question.topic}-topic)"
        return Miss(question, category, "", tags, shown, "")
    holds = [any(text_of[p.doc_id][p.start : p.end] in quoted for p in places) for quoted in _quoted(answer, text_of)]
    if answer.abstained:
        category = "abstained: answer-type rule" if TYPE_RULE in (answer.reason or "") else "abstained"
    elif not any(any(covers(p.doc_id, p.start, p.end, e) for e in question.evidence) for p in answer.passages[:5]):
        category = "wrong passage"
    elif not any(holds):
        category = "right passage, wrong sentence"
    elif not holds[0]:
        category = "evidence not in the first sentence"
    else:
        category = "right"
    span = ""
    if category == "right":
        inside = answer.span is not None and any(
            answer.span.doc_id == p.doc_id and p.start <= answer.span.start and answer.span.end <= p.end for p in places
        )
        span = "right" if inside else "missing" if answer.span is None else "wrong"
    return Miss(question, category, span, tags, shown, evidence_text)


def _quoted(answer: Answer, text_of: dict[str, str]) -> list[str]:
    """The answer's sentences in the order the reader sees them: what each citation quotes."""
    return [text_of[c.doc_id][c.start : c.end] for c in answer.citations]


def analyse(assistant: Assistant, questions: Sequence[GoldQuestion]) -> list[Miss]:
    text_of = {summary.id: assistant.document(summary.id).text for summary in assistant.documents()}
    return [classify(q, assistant.ask(q.question, top_k=10), text_of) for q in questions]


def markdown(misses: Sequence[Miss], split: str) -> str:
    categories = Counter(m.category for m in misses)
    answerable = [m for m in misses if m.question.answerable]
    spans = Counter(m.span for m in answerable if m.span)
    lines = [f"### Misses on the {split} split: {len(misses)} questions ({len(answerable)} answerable)", "",
             "| category | questions | English | English in the evidence | time |", "|---|---|---|---|---|"]  # fmt: skip
    for category, count in sorted(categories.items(), key=lambda item: (item[0] == "right", -item[1])):
        group = [m for m in misses if m.category == category]
        lines.append(f"| {category} | {count} | " + " | ".join(str(sum(tag in m.tags for m in group)) for tag in
                                                                ("English", "English in the evidence", "time")) + " |")  # fmt: skip
    lines += ["", f"Spans of the right answers ({sum(spans.values())}): " + ", ".join(f"{k} {v}" for k, v in sorted(spans.items())), ""]
    lines += ["| id | lang | category | question | answer (first 60 characters) |", "|---|---|---|---|---|"]
    for miss in misses:
        if miss.category != "right":
            answer = miss.answer[:60].replace("|", "/").replace("\n", " ")
            lines.append(f"| {miss.question.id} | {miss.question.lang} | {miss.category} | {miss.question.question} | {answer} |")
    return "\n".join(lines) + "\n"

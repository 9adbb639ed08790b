"""Which sentence answers: a small model that judges the candidate sentences of the top passages.

Retrieval scores a sentence by how close it is to the question, so the sentence that restates the
question (a headline, the premise) often outscores the one that holds the asked detail: on the dev
split the evidence was the best-scored sentence for 70% of answerable questions, and among the best
eight for 95% (eval/reports/experiments.md, "Which sentence answers"). The judge weighs, for each
candidate, what tells them apart: retrieval's score against the best one's, its passage's rank, what
the reader made of it, whether it holds a value of the asked type that the question does not already
give, how much of it is new to the question, how much of the question it covers, and whether it is a
title or a fragment. A logistic model fitted on the dev split (``rag-eval fit-judge``, ``judge.json``).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.answer_types import AnswerType, fold, given, values
from rag.files import write_atomic
from rag.lexical import normalize_for_matching
from rag.reader import Reading
from rag.retrieve import Ranking

log = logging.getLogger(__name__)
JUDGE_FILE = Path(__file__).with_name("judge.json")
FEATURES = ("score_gap", "passage_rank", "read", "reader_answers", "reader_span", "holds_type", "new_value", "novelty",
            "question_coverage", "short", "title")  # fmt: skip
_CLOSING = re.compile(r"[。!?!?」”』\"'.;;::]\s*$")


@dataclass(frozen=True)
class Candidate:
    """A sentence the judge weighs: its id, its passage's rank, and retrieval's score for it."""

    sentence_id: int
    rank: int
    score: float


@dataclass(frozen=True)
class JudgedSentence:
    """A candidate sentence as the judge saw it (``Assistant.explain`` lists them, best first)."""

    sentence_id: int
    rank: int  # its passage's rank
    doc_id: str
    start: int
    end: int
    text: str
    features: dict[str, float]
    probability: float  # P(it holds the answer)


@dataclass(frozen=True)
class Judge:
    weights: tuple[float, ...]
    bias: float

    @classmethod
    def retrieval_only(cls) -> Judge:
        """Retrieval's order (no fitted model): only the score gap counts."""
        return cls(tuple(1.0 if name == "score_gap" else 0.0 for name in FEATURES), 0.0)

    @classmethod
    def load(cls, path: Path = JUDGE_FILE) -> Judge:
        if not path.exists():
            return cls.retrieval_only()
        data = json.loads(path.read_text())
        if tuple(data.get("features", ())) != FEATURES:
            log.warning("%s was fitted on other features; sentences are chosen by retrieval's score until `rag-eval fit-judge` refits it", path)
            return cls.retrieval_only()
        return cls(tuple(data["weights"]), data["bias"])

    def save(self, path: Path = JUDGE_FILE) -> None:
        write_atomic(path, (json.dumps({"features": FEATURES, "weights": self.weights, "bias": self.bias}, indent=2) + "\n").encode())

    def probability(self, features: Mapping[str, float]) -> float:
        z = self.bias + sum(w * features[name] for w, name in zip(self.weights, FEATURES, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def _bigrams(text: str) -> set[str]:
    letters = [c for c in normalize_for_matching(text) if c.isalnum()]
    return {a + b for a, b in zip(letters, letters[1:])}


def candidate_features(ranking: Ranking, candidates: Sequence[Candidate], readings: Mapping[int, Reading],
                       kind: AnswerType | None) -> list[dict[str, float]]:  # fmt: skip
    """The judge's features of each candidate, in their order."""
    question = ranking.query.text
    asked = _bigrams(question)
    folded_question = fold(question)
    best = max((c.score for c in candidates), default=0.0)
    rows = []
    for candidate in candidates:
        sentence = ranking.sentences[candidate.sentence_id]
        text = ranking.text(sentence)
        said = _bigrams(text)
        reading = readings.get(candidate.sentence_id)
        found = values(kind, text) if kind is not None else frozenset()
        typed = kind is not None and kind.checkable and bool(found)
        document = ranking.documents[sentence.doc_id]
        rows.append({
            "score_gap": candidate.score - best,
            "passage_rank": math.log(candidate.rank),
            "read": float(reading is not None),
            "reader_answers": 1.0 - reading.no_answer if reading is not None else 0.0,
            "reader_span": reading.score if reading is not None else 0.0,
            "holds_type": float(typed),
            "new_value": float(any(not given(value, folded_question) for value in found)),
            "novelty": len(said - asked) / len(said) if said else 0.0,
            "question_coverage": len(said & asked) / len(asked) if asked else 0.0,
            "short": float(len(text) < 20 or not _CLOSING.search(text)),
            "title": float(len(text) < 40 and _own_line(document.text, sentence.start, sentence.end)),
        })  # fmt: skip
    return rows


def _own_line(text: str, start: int, end: int) -> bool:
    """A line to itself: a headline, a subheading, a caption."""
    return (start == 0 or text[start - 1] == "\n") and (end >= len(text) or text[end] == "\n")


def is_headline(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is the article's headline: its first line, short, to itself."""
    return end - start < 40 and _own_line(text, start, end) and not text[:start].strip()


def candidate_sentences(ranking: Ranking, passages: int, rank_penalty: float) -> list[Candidate]:
    """The sentences of the top ``passages`` passages, best retrieval score first; a sentence's score
    drops by ``rank_penalty`` for each rank its passage sits below the first. A sentence in two
    overlapping passages counts once, in the higher one."""
    seen: dict[int, Candidate] = {}
    for rank, candidate in enumerate(ranking.candidates[:passages], start=1):
        for sentence_id, score in candidate.sentences:
            if sentence_id not in seen:
                seen[sentence_id] = Candidate(sentence_id, rank, score - rank_penalty * (rank - 1))
    return sorted(seen.values(), key=lambda c: (-c.score, c.rank))


def judged_sentences(ranking: Ranking, candidates: Sequence[Candidate], readings: Mapping[int, Reading], kind: AnswerType | None,
                     judge: Judge) -> list[JudgedSentence]:  # fmt: skip
    """The candidates with the judge's probability, most likely first (ties: retrieval's order)."""
    judged = []
    for candidate, features in zip(candidates, candidate_features(ranking, candidates, readings, kind), strict=True):
        sentence = ranking.sentences[candidate.sentence_id]
        judged.append(JudgedSentence(candidate.sentence_id, candidate.rank, sentence.doc_id, sentence.start, sentence.end,
                                     ranking.text(sentence), features, judge.probability(features)))  # fmt: skip
    return sorted(judged, key=lambda j: -j.probability)

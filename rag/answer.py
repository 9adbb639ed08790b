"""Extractive answers: ranked passages, the answering sentence, citations, and abstention.

Nothing is generated: the answer is a sentence copied from a passage, and each citation gives
its offsets in the document and in the passage.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.index import Index
from rag.retrieve import Ranking

ABSTENTION_FILE = Path(__file__).with_name("abstention.json")
FEATURES = ("top_dense", "top_sentence", "coverage", "margin")


@dataclass(frozen=True)
class Passage:
    rank: int
    doc_id: str
    title: str
    source: str | None
    text: str
    start: int
    end: int
    score: float
    highlight: tuple[int, int] | None  # the answering sentence, as offsets inside ``text``


@dataclass(frozen=True)
class Citation:
    rank: int  # the cited passage's rank
    doc_id: str
    start: int  # the answer's offsets in the document
    end: int
    passage_start: int  # and inside the passage's text
    passage_end: int


@dataclass(frozen=True)
class Answer:
    question: str
    text: str | None
    passages: list[Passage]
    citations: list[Citation]
    abstained: bool
    confidence: float  # probability that the documents answer the question

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Abstainer:
    """Logistic model of P(answerable | features); fitted on the dev split by ``rag eval --fit``."""

    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5

    @classmethod
    def load(cls, path: Path = ABSTENTION_FILE) -> "Abstainer":
        if not path.exists():
            return cls(weights=(0.0,) * len(FEATURES), bias=10.0)  # unfitted: never abstains
        data = json.loads(path.read_text())
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path} was fitted on features {data['features']}, expected {FEATURES}")
        return cls(tuple(data["weights"]), data["bias"], data.get("threshold", 0.5))

    def save(self, path: Path = ABSTENTION_FILE) -> None:
        payload = {"features": FEATURES, "weights": self.weights, "bias": self.bias, "threshold": self.threshold}
        path.write_text(json.dumps(payload, indent=2) + "\n")

    def probability(self, features: dict[str, float]) -> float:
        z = self.bias + sum(w * features[name] for w, name in zip(self.weights, FEATURES, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def features(ranking: Ranking) -> dict[str, float]:
    """What the abstention model sees: how close the best chunk and sentence are, and how much
    of the question the corpus vocabulary covers."""
    candidates = ranking.candidates
    dense = sorted((c.dense for c in candidates), reverse=True) + [0.0, 0.0]
    return {
        "top_dense": dense[0],
        "top_sentence": max((c.sentence_score for c in candidates), default=0.0),
        "coverage": ranking.coverage,
        "margin": dense[0] - dense[1],
    }


def assemble(question: str, index: Index, ranking: Ranking, abstainer: Abstainer | None) -> Answer:
    """Passages in rank order, the best sentence of the top three as the answer, or an abstention."""
    best = max(ranking.candidates[:3], key=lambda c: c.sentence_score, default=None)
    answer_sentence = best.sentence_id if best is not None else None
    passages: list[Passage] = []
    citations: list[Citation] = []
    for rank, candidate in enumerate(ranking.candidates, start=1):
        chunk = index.chunks[candidate.chunk_id]
        document = index.documents[chunk.doc_id]
        highlight = None
        if candidate.sentence_id is not None:
            sentence = index.sentences[candidate.sentence_id]
            highlight = (sentence.start - chunk.start, sentence.end - chunk.start)
            if candidate.sentence_id == answer_sentence and not citations:
                citations.append(Citation(rank, chunk.doc_id, sentence.start, sentence.end, *highlight))
        passages.append(
            Passage(rank, chunk.doc_id, document.title, document.source, chunk.text, chunk.start, chunk.end, round(candidate.score, 4), highlight)
        )
    confidence = abstainer.probability(features(ranking)) if abstainer else 1.0
    abstained = not citations or confidence < (abstainer.threshold if abstainer else 0.0)
    text = None
    if not abstained:
        citation = citations[0]
        text = index.documents[citation.doc_id].text[citation.start : citation.end]
    return Answer(question, text, passages, [] if abstained else citations, abstained, round(confidence, 4))

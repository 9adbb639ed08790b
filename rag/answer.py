"""Extractive answers: ranked passages, the answering sentence, citations, and abstention.

Nothing is generated: the answer is a sentence copied from a passage, and each citation gives
its offsets in the document and in the passage.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag.answer_types import missing_type
from rag.config import RetrievalSettings
from rag.files import write_atomic
from rag.index import Index
from rag.retrieve import Ranking
from rag.vectors import search

ABSTENTION_FILE = Path(__file__).with_name("abstention.json")
FEATURES = ("top_dense", "top_sentence", "answer_type_mismatch")


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
    reason: str | None = None  # why the assistant abstained, in words for the reader
    features: dict[str, float] = field(default_factory=dict)  # what the abstention model saw

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Abstainer:
    """Logistic model of P(answerable | features); fitted on the dev split by ``rag eval --fit``."""

    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5

    @classmethod
    def load(cls, path: Path = ABSTENTION_FILE) -> Abstainer:
        unfitted = cls(weights=(0.0,) * len(FEATURES), bias=10.0)  # never abstains
        if not path.exists():
            return unfitted
        data = json.loads(path.read_text())
        if tuple(data["features"]) != FEATURES:
            print(f"warning: {path} was fitted on other features; the assistant will not abstain until "
                  "`rag eval --fit` refits it", file=sys.stderr)  # fmt: skip
            return unfitted
        return cls(tuple(data["weights"]), data["bias"], data.get("threshold", 0.5))

    def save(self, path: Path = ABSTENTION_FILE) -> None:
        payload = {"features": FEATURES, "weights": self.weights, "bias": self.bias, "threshold": self.threshold}
        write_atomic(path, (json.dumps(payload, indent=2) + "\n").encode())

    def probability(self, features: dict[str, float]) -> float:
        z = self.bias + sum(w * features[name] for w, name in zip(self.weights, FEATURES, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def answer_sentences(ranking: Ranking, settings: RetrievalSettings) -> list[tuple[int, int]]:
    """(passage rank, sentence id) of the answer: the best sentence of the top passages, and the
    runner-up when it scores within ``second_sentence_margin`` of it. A sentence's score drops by
    ``answer_rank_penalty`` for each rank its passage sits below the first."""
    scored = sorted(
        (
            (score - settings.answer_rank_penalty * (rank - 1), rank, sid)
            for rank, c in enumerate(ranking.candidates[: settings.answer_passages], start=1)
            for sid, score in c.sentences
        ),
        key=lambda item: (-item[0], item[1]),
    )
    chosen: list[tuple[float, int, int]] = []
    for score, rank, sid in scored:
        if sid in {s for _, _, s in chosen}:
            continue
        if chosen and chosen[0][0] - score > settings.second_sentence_margin:
            break
        chosen.append((score, rank, sid))
        if len(chosen) == 2:
            break
    return [(rank, sid) for _, rank, sid in chosen]


def features(question: str, index: Index, ranking: Ranking, chosen: list[tuple[int, int]]) -> dict[str, float]:
    """What the abstention model sees: how close the question's base-model vector comes to any chunk
    and to the candidates' sentences, and whether the answer sentences (``chosen``) lack the kind of
    thing the question asks for (a year, an amount …). The base vector keeps one scale whether or
    not retrieval used the adapted query tower, whose cosines are spread differently."""
    vector = ranking.query.base_vector
    scores, _ = search(index.chunk_vectors, vector, 1)
    sentence_ids = [sid for candidate in ranking.candidates for sid, _ in candidate.sentences]
    answer_text = " ".join(index.sentence_text(sid) for _, sid in chosen)
    return {
        "top_dense": float(scores[0]) if scores.size else 0.0,
        "top_sentence": float((index.sentence_vectors[sentence_ids] @ vector).max()) if sentence_ids else 0.0,
        "answer_type_mismatch": float(missing_type(question, answer_text) is not None),
    }


def abstention_reason(question: str, answer_text: str) -> str:
    if not answer_text:
        return "No passage matches the question."
    missing = missing_type(question, answer_text)
    if missing is not None:
        return f"The question asks for {missing.noun}, and the closest passages give none."
    return "None of the passages is close enough to the question to answer it."


def assemble(
    question: str, index: Index, ranking: Ranking, settings: RetrievalSettings, abstainer: Abstainer | None
) -> Answer:
    """Passages in rank order with their answering sentence marked, the answer and its citations,
    or an abstention (the passages are then the closest matches)."""
    chosen = answer_sentences(ranking, settings)
    cited_in = {rank: sid for rank, sid in reversed(chosen)}
    passages: list[Passage] = []
    for rank, candidate in enumerate(ranking.candidates, start=1):
        chunk = index.chunks[candidate.chunk_id]
        document = index.documents[chunk.doc_id]
        sid = cited_in.get(rank, candidate.sentence_id)
        highlight = None
        if sid is not None:
            sentence = index.sentences[sid]
            highlight = (max(sentence.start, chunk.start) - chunk.start, min(sentence.end, chunk.end) - chunk.start)
        passages.append(
            Passage(
                rank,
                chunk.doc_id,
                document.title,
                document.source,
                chunk.text,
                chunk.start,
                chunk.end,
                round(candidate.score, 4),
                highlight,
            )
        )
    citations = []
    for rank, sid in sorted(chosen, key=lambda item: (index.sentences[item[1]].doc_id, index.sentences[item[1]].start)):
        passage = passages[rank - 1]
        start = max(index.sentences[sid].start, passage.start)
        end = min(index.sentences[sid].end, passage.end)
        citations.append(Citation(rank, passage.doc_id, start, end, start - passage.start, end - passage.start))
    seen = features(question, index, ranking, chosen) if abstainer else {}
    confidence = abstainer.probability(seen) if abstainer else 1.0
    abstained = not citations or (abstainer is not None and confidence < abstainer.threshold)
    if abstained:
        reason = abstention_reason(question, " ".join(index.sentence_text(sid) for _, sid in chosen))
        return Answer(question, None, passages, [], True, round(confidence, 4), reason, features=seen)
    text = answer_text(index, citations)
    return Answer(question, text, passages, citations, False, round(confidence, 4), features=seen)


def answer_text(index: Index, citations: list[Citation]) -> str:
    """The cited spans in document order; spans that follow each other in the document read as
    one stretch of it, the others are joined by " … "."""
    stretches: list[tuple[str, int, int]] = []
    for citation in citations:
        if stretches:
            doc_id, start, end = stretches[-1]
            between = index.documents[doc_id].text[end : citation.start]
            if doc_id == citation.doc_id and citation.start >= end and not between.strip():
                stretches[-1] = (doc_id, start, citation.end)
                continue
        stretches.append((citation.doc_id, citation.start, citation.end))
    return " … ".join(index.documents[doc_id].text[start:end] for doc_id, start, end in stretches)

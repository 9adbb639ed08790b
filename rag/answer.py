"""Extractive answers: ranked passages, the answering sentence, citations, and abstention.

Nothing is generated: the answer is a sentence copied from a passage, and each citation gives
its offsets in the document and in the passage. Everything here works on a ``Ranking``; the
answer stage never searches the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from rag.abstention import Abstainer
from rag.answer_types import AnswerType, missing_type
from rag.config import RetrievalSettings
from rag.reader import Reading
from rag.retrieve import Ranking


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
class Span:
    """The reader's answer inside the cited sentence: ``document.text[start:end] == text``."""

    text: str
    doc_id: str
    start: int
    end: int
    score: float  # P(this is the span) · P(the sentence answers), by the reader


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
    span: Span | None = None  # the exact answer inside the first cited sentence, when the reader is confident

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def candidate_sentences(ranking: Ranking, settings: RetrievalSettings) -> list[tuple[float, int, int]]:
    """(score, passage rank, sentence id) of the top passages' sentences, best first. A sentence's
    score drops by ``answer_rank_penalty`` for each rank its passage sits below the first."""
    return sorted(
        (
            (score - settings.answer_rank_penalty * (rank - 1), rank, sid)
            for rank, c in enumerate(ranking.candidates[: settings.answer_passages], start=1)
            for sid, score in c.sentences
        ),
        key=lambda item: (-item[0], item[1]),
    )


def answer_sentences(ranking: Ranking, settings: RetrievalSettings) -> list[tuple[int, int]]:
    """(passage rank, sentence id) of the answer: the best sentence of the top passages, and the
    runner-up when it scores within ``second_sentence_margin`` of it."""
    scored = candidate_sentences(ranking, settings)
    chosen: list[tuple[float, int, int]] = []
    for score, rank, sid in scored:
        if sid in {s for _, _, s in chosen} or (chosen and _same_text(ranking, sid, chosen[0][2])):
            continue  # the same sentence, or the same words in another article: cited once
        if chosen and chosen[0][0] - score > settings.second_sentence_margin:
            break
        chosen.append((score, rank, sid))
        if len(chosen) == 2:
            break
    return [(rank, sid) for _, rank, sid in chosen]


def _same_text(ranking: Ranking, first: int, second: int) -> bool:
    if first not in ranking.sentences or second not in ranking.sentences:
        return False
    return ranking.text(ranking.sentences[first]) == ranking.text(ranking.sentences[second])


def abstention_reason(answer_text: str, missing: AnswerType | None) -> str:
    if not answer_text:
        return "No passage matches the question."
    if missing is not None:
        return f"The question asks for {missing.noun}, and the closest passages give none."
    return "None of the passages is close enough to the question to answer it."


def _passages(ranking: Ranking, chosen: list[tuple[int, int]]) -> list[Passage]:
    cited_in = {rank: sid for rank, sid in reversed(chosen)}
    passages = []
    for rank, candidate in enumerate(ranking.candidates, start=1):
        chunk = ranking.chunks[candidate.chunk_id]
        document = ranking.documents[chunk.doc_id]
        sid = cited_in.get(rank, candidate.sentence_id)
        highlight = None
        if sid is not None:
            sentence = ranking.sentences[sid]
            highlight = (max(sentence.start, chunk.start) - chunk.start, min(sentence.end, chunk.end) - chunk.start)
        passages.append(Passage(rank, chunk.doc_id, document.title, document.source, ranking.text(chunk), chunk.start,
                                chunk.end, round(candidate.score, 4), highlight))  # fmt: skip
    return passages


def _span(ranking: Ranking, sid: int, reading: Reading | None, settings: RetrievalSettings) -> Span | None:
    """The reader's span in the cited sentence, when it is sure enough to show it as the answer."""
    if reading is None or reading.end <= reading.start or reading.no_answer >= 0.5 or reading.score < settings.span_min_score:
        return None
    sentence = ranking.sentences[sid]
    start, end = sentence.start + reading.start, sentence.start + reading.end
    text = ranking.documents[sentence.doc_id].text[start:end]
    return Span(text, sentence.doc_id, start, end, round(reading.score * (1 - reading.no_answer), 4))


def assemble(ranking: Ranking, settings: RetrievalSettings, abstainer: Abstainer | None,
             readings: Mapping[int, Reading] | None = None) -> Answer:  # fmt: skip
    """Passages in rank order with their answering sentence marked, the answer and its citations,
    or an abstention (the passages are then the closest matches). ``readings``: the reader's view of
    the candidate sentences it read (none without a reader)."""
    question = ranking.query.text
    chosen = answer_sentences(ranking, settings)
    passages = _passages(ranking, chosen)
    citations = []
    for rank, sid in sorted(chosen, key=lambda item: (ranking.sentences[item[1]].doc_id, ranking.sentences[item[1]].start)):
        passage = passages[rank - 1]
        start = max(ranking.sentences[sid].start, passage.start)
        end = min(ranking.sentences[sid].end, passage.end)
        citations.append(Citation(rank, passage.doc_id, start, end, start - passage.start, end - passage.start))
    chosen_text = " ".join(ranking.text(ranking.sentences[sid]) for _, sid in chosen)
    missing = missing_type(question, chosen_text)
    features = {
        "top_dense": ranking.closeness.top_chunk,
        "top_sentence": ranking.closeness.top_sentence,
        "answer_type_mismatch": float(missing is not None),
    } if abstainer else {}  # fmt: skip
    confidence = abstainer.probability(features) if abstainer else 1.0
    if not citations or (abstainer is not None and confidence < abstainer.threshold):
        reason = abstention_reason(chosen_text, missing)
        return Answer(question, None, passages, [], True, round(confidence, 4), reason, features=features)
    text = answer_text(ranking, citations)
    span = _span(ranking, chosen[0][1], (readings or {}).get(chosen[0][1]), settings)
    return Answer(question, text, passages, citations, False, round(confidence, 4), features=features, span=span)


def answer_text(ranking: Ranking, citations: list[Citation]) -> str:
    """The cited spans in document order; spans that follow each other in the document read as
    one stretch of it, the others are joined by " … "."""
    stretches: list[tuple[str, int, int]] = []
    for citation in citations:
        if stretches:
            doc_id, start, end = stretches[-1]
            between = ranking.documents[doc_id].text[end : citation.start]
            if doc_id == citation.doc_id and citation.start >= end and not between.strip():
                stretches[-1] = (doc_id, start, citation.end)
                continue
        stretches.append((citation.doc_id, citation.start, citation.end))
    return " … ".join(ranking.documents[doc_id].text[start:end] for doc_id, start, end in stretches)

"""When the assistant says "not found", and how sure it is of the answer it shows.

Two logistic models over the same features, both fitted on the dev split by ``rag-eval
fit-abstention`` (``rag/abstention.json``): P(the articles answer the question), below a threshold
the assistant abstains; and P(the answer shown is right), the confidence it shows.

Closeness alone cannot tell a question the articles leave open about their own people and events
from one they answer (ROC AUC 0.62 on dev, eval/reports/experiments.md), so the features also read
what is asked against the evidence: how much of the question's content, weighted by how rare each
word is in Chinese at large (``lexical.rarity``), the answer's sentence, its passage and its article
hold; how much of it the whole collection never mentions; the reader's P(the sentence answers); and
whether the sentence holds the kind of value asked for (``answer_types``).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rag.answer_types import AnswerType
from rag.files import write_atomic
from rag.lexical import normalize_for_matching, rarity, term_id
from rag.query import Query
from rag.retrieve import Ranking

log = logging.getLogger(__name__)
ABSTENTION_FILE = Path(__file__).with_name("abstention.json")
FEATURES = ("top_dense", "top_sentence", "answer_type_mismatch", "reader_answers", "judged", "sentence_coverage",
            "passage_coverage", "article_coverage", "unknown_terms")  # fmt: skip
MAX_TERMS = 64


@dataclass(frozen=True)
class Logistic:
    weights: tuple[float, ...]
    bias: float

    def probability(self, features: Mapping[str, float]) -> float:
        z = self.bias + sum(w * features[name] for w, name in zip(self.weights, FEATURES, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


@dataclass(frozen=True)
class Abstainer:
    answerable: Logistic  # P(the articles answer the question)
    threshold: float  # abstain below it
    correct: Logistic  # P(the answer shown is right): the confidence

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= 1:
            raise ValueError(f"Abstainer.threshold is a probability: it must be in [0, 1], got {self.threshold!r}")

    @classmethod
    def never(cls) -> Abstainer:
        """Answers everything, with a confidence of 1 (no fitted model)."""
        certain = Logistic((0.0,) * len(FEATURES), 50.0)
        return cls(certain, 0.5, certain)

    @classmethod
    def load(cls, path: Path = ABSTENTION_FILE) -> Abstainer:
        if not path.exists():
            return cls.never()
        data = json.loads(path.read_text())
        if tuple(data.get("features", ())) != FEATURES or "correct" not in data:
            log.warning("%s was fitted on other features; the assistant will not abstain until `rag-eval fit-abstention` refits it", path)
            return cls.never()
        answerable, correct = data["answerable"], data["correct"]
        return cls(Logistic(tuple(answerable["weights"]), answerable["bias"]), data["threshold"],
                   Logistic(tuple(correct["weights"]), correct["bias"]))  # fmt: skip

    def save(self, path: Path = ABSTENTION_FILE) -> None:
        payload = {"features": FEATURES, "threshold": self.threshold,
                   "answerable": {"weights": self.answerable.weights, "bias": self.answerable.bias},
                   "correct": {"weights": self.correct.weights, "bias": self.correct.bias}}  # fmt: skip
        write_atomic(path, (json.dumps(payload, indent=2) + "\n").encode())

    def abstains(self, features: Mapping[str, float]) -> bool:
        return self.answerable.probability(features) < self.threshold


def question_terms(query: Query) -> list[tuple[str, float]]:
    """The question's content terms and their weights (``rarity``). An English question's own words
    never occur in Chinese articles, so its terms are the Chinese keywords it gained and the names
    and numbers it writes (a capitalised word, digits)."""
    terms = list(dict.fromkeys(query.tokens[:MAX_TERMS]))
    if query.language == "en":
        terms = [term for term in terms if not term.isascii() or term.isdigit() or _written_as_name(term, query.text)]
    return [(term, rarity(term)) for term in terms]


def _written_as_name(token: str, text: str) -> bool:
    """A capitalised word that does not open the question ("Murati", not "Apart")."""
    match = re.search(rf"\b{re.escape(token)}\b", text, re.IGNORECASE)
    return bool(match and match.start() > 0 and match.group(0)[:1].isupper())


def _share(terms: list[tuple[str, float]], text: str) -> float:
    total = sum(weight for _, weight in terms)
    if not total:
        return 0.0
    folded = normalize_for_matching(text)
    return sum(weight for term, weight in terms if term in folded) / total


def features(ranking: Ranking, sentence_id: int | None, rank: int | None, reads: float | None, mismatch: AnswerType | None,
             judged: float) -> dict[str, float]:  # fmt: skip
    """What the models weigh for the answer sentence ``sentence_id`` of the passage at ``rank``
    (None: no sentence to answer with); ``reads``: the reader's P(it answers), when it read it;
    ``judged``: the judge's P(it holds the answer)."""
    terms = question_terms(ranking.query)
    total = sum(weight for _, weight in terms)
    unknown = sum(weight for term, weight in terms if term_id(term) not in ranking.known_terms) / total if total else 0.0
    covered = {"sentence_coverage": 0.0, "passage_coverage": 0.0, "article_coverage": 0.0}
    if sentence_id is not None and rank is not None:
        sentence = ranking.sentences[sentence_id]
        passage = ranking.chunks[ranking.candidates[rank - 1].chunk_id]
        covered = {"sentence_coverage": _share(terms, ranking.text(sentence)), "passage_coverage": _share(terms, ranking.text(passage)),
                   "article_coverage": _share(terms, ranking.documents[sentence.doc_id].text)}  # fmt: skip
    return {
        "top_dense": ranking.closeness.top_chunk,
        "top_sentence": ranking.closeness.top_sentence,
        "answer_type_mismatch": float(mismatch is not None),
        "reader_answers": 0.5 if reads is None else reads,
        "judged": judged,
        **covered,
        "unknown_terms": unknown,
    }

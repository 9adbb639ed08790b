"""The reader's training pairs, drawn from its questions: an answering window of the question's
paragraph, an on-topic negative (another paragraph of the same article; where the article has only
one paragraph, a window of the question's paragraph that holds no gold answer), an off-topic
negative (a window of another article) and, when asked, a negative from the question's own
paragraph and a near negative (the closest window of another article); and the dev paragraphs read
whole as sliding windows.

The draws follow one ``random.Random`` in a fixed order, so the same seed gives the same pairs.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rag_eval.reader_data import Question
from rag_eval.reader_metrics import sliding_windows


class PairSettings(Protocol):
    """What drawing pairs reads of ``rag_eval.reader_training.TrainSettings``."""

    @property
    def window(self) -> tuple[int, int]: ...

    @property
    def same_paragraph(self) -> bool: ...

    @property
    def near_negative(self) -> bool: ...

    @property
    def dev_window(self) -> int: ...

    @property
    def dev_stride(self) -> int: ...


@dataclass(frozen=True)
class Pair:
    question: int  # index into the question list
    window: str
    answer: tuple[int, int] | None  # character span inside the window; None for a negative
    kind: str  # "answering", "on-topic", "off-topic", "same-paragraph", "near", "paragraph" (a dev sliding window)
    offset: int = 0  # the window's start in its paragraph


def _holds_answer(window: str, question: Question) -> bool:
    return any(text in window for text, _ in question.answers)


def answering_window(question: Question, length: int, rng: random.Random) -> Pair | None:
    text, start = question.answers[0]
    end = start + len(text)
    length = max(length, len(text) + 10)
    low, high = max(0, end - length), min(start, max(0, len(question.context) - length))
    if low > high:
        return None
    offset = rng.randint(low, high)
    return Pair(-1, question.context[offset : offset + length], (start - offset, end - offset), "", offset)


def other_window(text: str, length: int, rng: random.Random) -> str:
    offset = rng.randint(0, max(0, len(text) - length))
    return text[offset : offset + length]


def same_paragraph_window(question: Question, length: int, rng: random.Random) -> str:
    """A window of the question's own paragraph before or after every answer ("" when no gap holds
    20 characters): the neighbour a sliding window reads next to the answer."""
    spans = [(start, start + len(text)) for text, start in question.answers]
    gaps = [(0, min(s for s, _ in spans)), (max(e for _, e in spans), len(question.context))]
    gaps = [(a, b) for a, b in gaps if b - a >= 20]
    if not gaps:
        return ""
    a, b = rng.choice(gaps)
    return other_window(question.context[a:b], min(length, b - a), rng)


def on_topic_window(question: Question, others: Sequence[str], length: int, rng: random.Random) -> str | None:
    """A window of another paragraph of the article, else of this paragraph away from every answer;
    never one that contains a gold answer's text."""
    for _ in range(5):
        if others:
            window = other_window(rng.choice(others), length, rng)
        else:
            window = same_paragraph_window(question, length, rng)
            if not window:
                return None
        if window and not _holds_answer(window, question):
            return window
    return None


def nearest_windows(questions: Sequence[Question], chosen: Sequence[int], length: int) -> dict[int, str]:
    """For each chosen question, the window (sliding, ``length`` characters) of another article's
    paragraph that shares most of its character bigrams (TF-IDF cosine) and holds no gold answer:
    the kind of passage retrieval ranks next to the right one, and the reader's re-ranking promoted
    (CMRC 2018: 38 first passages lost, reader.md)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    windows, articles = [], []
    for context, article in dict.fromkeys((questions[i].context, questions[i].article) for i in chosen):
        for start, end in sliding_windows(context, length, length // 2):
            windows.append(context[start:end])
            articles.append(article)
    vectoriser = TfidfVectorizer(analyzer="char", ngram_range=(2, 2)).fit(windows)
    window_vectors = vectoriser.transform(windows).T.tocsc()
    nearest = {}
    for at in range(0, len(chosen), 500):  # 500 questions at a time: the products are nearly dense
        block = chosen[at : at + 500]
        similarity = (vectoriser.transform([questions[i].question for i in block]) @ window_vectors).toarray()
        for row, i in enumerate(block):
            for k in np.argsort(-similarity[row], kind="stable")[:20]:
                if articles[k] != questions[i].article and not _holds_answer(windows[k], questions[i]):
                    nearest[i] = windows[k]
                    break
    return nearest


def build_pairs(
    questions: Sequence[Question], chosen: Sequence[int], settings: PairSettings, rng: random.Random
) -> list[Pair]:
    paragraphs: dict[str, list[str]] = defaultdict(list)
    for i in chosen:
        if questions[i].context not in paragraphs[questions[i].article]:
            paragraphs[questions[i].article].append(questions[i].context)
    articles = sorted(paragraphs)
    nearest = nearest_windows(questions, chosen, settings.window[1]) if settings.near_negative else {}
    pairs = []
    for i in chosen:
        q = questions[i]
        pair = answering_window(q, rng.randint(*settings.window), rng)
        if pair is not None:
            pairs.append(Pair(i, pair.window, pair.answer, "answering", pair.offset))
        length = rng.randint(*settings.window)
        others = [p for p in paragraphs[q.article] if p != q.context]
        window = on_topic_window(q, others, length, rng)
        if window is not None:
            pairs.append(Pair(i, window, None, "on-topic"))
        article = rng.choice([a for a in articles if a != q.article])
        window = other_window(rng.choice(paragraphs[article]), length, rng)
        if not _holds_answer(window, q):
            pairs.append(Pair(i, window, None, "off-topic"))
        if settings.same_paragraph and others:  # (without other paragraphs, the on-topic pair is already one)
            window = same_paragraph_window(q, rng.randint(*settings.window), rng)
            if window and not _holds_answer(window, q):
                pairs.append(Pair(i, window, None, "same-paragraph"))
        if i in nearest:  # drawn from no RNG: the other pairs are the same with or without it
            pairs.append(Pair(i, nearest[i], None, "near"))
    return pairs


def paragraph_pairs(questions: Sequence[Question], chosen: Sequence[int], settings: PairSettings) -> list[Pair]:
    """Every dev question against its whole paragraph, as the sliding windows heldout is read with."""
    return [
        Pair(i, questions[i].context[start:end], None, "paragraph", start)
        for i in chosen
        for start, end in sliding_windows(questions[i].context, settings.dev_window, settings.dev_stride)
    ]

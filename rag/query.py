"""A question made ready for retrieval: validated, its language told, its vectors and tokens, and
for English questions the Chinese keywords the articles would use.

``validate_question``, ``validate_top_k`` and ``validate_filter`` are the one gate every edge (API,
CLI, page, HTTP) passes through, so they say exactly the same thing everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rag.clean import to_simplified
from rag.config import RetrievalSettings
from rag.dates import parse_iso
from rag.document import DocumentSummary
from rag.encoder import Encoder
from rag.errors import InvalidQuestionError
from rag.expand import english_to_chinese
from rag.followup import MAX_HISTORY
from rag.lexical import term_id, tokenize
from rag.mentions import Named, named_in, people_named
from rag.store.base import StoreView
from rag.store.filter_index import FilterFields, FilterIndex

Language = Literal["zh-Hans", "zh-Hant", "en"]
TOP_K_RANGE = (1, 50)
_LATIN_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Query:
    """A question ready for retrieval."""

    text: str
    language: Language
    vector: np.ndarray  # what retrieval uses (the adapted query tower's, for Chinese questions)
    base_vector: np.ndarray  # the base model's: abstention compares it with the articles
    tokens: tuple[str, ...]  # lexical tokens, with the Chinese keywords of an English question
    named: tuple[Named, ...] = ()  # what a Chinese question writes in Latin letters (rag.mentions)
    people: tuple[Named, ...] = ()  # the people a Chinese question names in Han characters (rag.mentions.people_named)


def validate_question(question: object, max_chars: int) -> str:
    """The question, stripped; ``InvalidQuestionError`` saying what is wrong with it otherwise."""
    if not isinstance(question, str):
        raise InvalidQuestionError(f"the question must be text, not {type(question).__name__}")
    text = question.strip()
    if not text:
        raise InvalidQuestionError("the question is empty; type a question")
    if len(question) > max_chars:
        raise InvalidQuestionError(f"the question is {len(question):,} characters long; the limit is {max_chars:,}")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise InvalidQuestionError("the question contains an unpaired surrogate (broken text encoding); type it again")
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in text):
        raise InvalidQuestionError("the question contains control characters; type it again as plain text")
    return text


def validate_history(history: object, max_chars: int) -> tuple[str, ...]:
    """The conversation's earlier questions, oldest first, each checked like a question;
    ``InvalidQuestionError`` when ``history`` is not a list of strings or holds more than
    ``MAX_HISTORY`` (send the last ones)."""
    if history is None:
        return ()
    if not isinstance(history, list | tuple) or not all(isinstance(item, str) for item in history):
        raise InvalidQuestionError("history must be a list of the conversation's earlier questions (strings), oldest first")
    if len(history) > MAX_HISTORY:
        raise InvalidQuestionError(f"history holds {len(history)} questions; send at most the last {MAX_HISTORY}")
    checked = []
    for number, item in enumerate(history, start=1):
        try:
            checked.append(validate_question(item, max_chars))
        except InvalidQuestionError as error:
            raise InvalidQuestionError(f"history question {number}: {error}") from None
    return tuple(checked)


def validate_top_k(top_k: object) -> int:
    """``top_k`` must be a real int (not a bool, float or string) within ``TOP_K_RANGE``."""
    low, high = TOP_K_RANGE
    if not isinstance(top_k, int) or isinstance(top_k, bool):
        raise InvalidQuestionError(f"top_k must be a whole number between {low} and {high}, not {top_k!r}")
    if not low <= top_k <= high:
        raise InvalidQuestionError(f"top_k must be between {low} and {high}, got {top_k}")
    return top_k


MAX_FILTER_ITEMS = 1_000  # sources or documents a filter names


@dataclass(frozen=True)
class Filter:
    """Which articles a question searches (``Assistant.ask(since=…, until=…, sources=…, documents=…)``):
    published from ``since`` to ``until`` (ISO dates, both inclusive; an article without a known date
    is left out as soon as either is given), from one of ``sources`` (``DocumentSummary.source``),
    one of ``documents`` (ids). Each part given narrows the search; none given searches everything.
    The stores apply it inside their searches, so a filtered question still gets ``top_k`` passages
    when that many match."""

    since: str | None = None
    until: str | None = None
    sources: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self.since is None and self.until is None and not self.sources and not self.documents

    def admits(self, document: DocumentSummary | FilterFields) -> bool:
        """Whether ``document`` may be read: the definition ``allowed`` finds faster."""
        if self.documents and document.id not in self.documents:
            return False
        if self.sources and document.source not in self.sources:
            return False
        if self.since is not None or self.until is not None:
            published = document.published
            if published is None or (self.since is not None and published < self.since) or (self.until is not None and published > self.until):
                return False
        return True

    def allowed(self, index: FilterIndex) -> frozenset[str] | None:
        """The ids of the documents of a view's ``index`` it admits (None: it admits everything,
        nothing to narrow); ``InvalidQuestionError`` for a document id the view does not hold.
        Each part given (documents, sources, period) is a set found in the index; only the smallest
        is read, one document at a time, so the cost is that of the matches, not the collection's."""
        if self.empty:
            return None
        unknown = sorted(doc_id for doc_id in self.documents if doc_id not in index.documents)  # not `set - keys()`: that reads every key
        if unknown:
            raise InvalidQuestionError(f"no document {', '.join(map(repr, unknown[:5]))} in the collection; filter by the ids `rag documents` lists")
        parts: list[Sequence[str]] = []
        if self.documents:
            parts.append(self.documents)
        if self.sources:
            parts.append(index.from_sources(self.sources))
        if self.since is not None or self.until is not None:
            parts.append(index.published(self.since, self.until))
        smallest = min(parts, key=len)
        if len(parts) == 1:  # the part is exactly what the filter admits
            return frozenset(smallest)
        return frozenset(doc_id for doc_id in smallest if self.admits(index.documents[doc_id]))


def _filter_date(value: object, name: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None  # not given (an empty field of the page)
    try:
        return parse_iso(value).isoformat()
    except ValueError as error:
        raise InvalidQuestionError(f"{name}: {error}") from None


def _filter_names(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise InvalidQuestionError(f"{name} must be a list of strings, not {value!r}"[:200])
    if len(value) > MAX_FILTER_ITEMS:
        raise InvalidQuestionError(f"{name} names {len(value):,}; at most {MAX_FILTER_ITEMS:,}")
    return tuple(dict.fromkeys(item.strip() for item in value if item.strip()))


def validate_filter(since: object = None, until: object = None, sources: object = None, documents: object = None) -> Filter:
    """The filter of a question, or ``InvalidQuestionError`` saying what is wrong: a date that is not
    ``YYYY-MM-DD`` or no day of the calendar, ``since`` after ``until``, sources or documents that
    are not lists of strings. (Unknown document ids are found against the collection: ``Filter.allowed``.)"""
    checked = Filter(_filter_date(since, "since"), _filter_date(until, "until"), _filter_names(sources, "sources"), _filter_names(documents, "documents"))
    if checked.since is not None and checked.until is not None and checked.since > checked.until:
        raise InvalidQuestionError(f"since ({checked.since}) is after until ({checked.until}); nothing could match")
    return checked


def question_language(text: str) -> Language:
    """English when Latin words outnumber Han characters, else the script of the Chinese. Words,
    not letters: "Greg Brockman宣布休假到什麼時候?" is a Chinese question naming a person."""
    han = sum("\u4e00" <= c <= "\u9fff" for c in text)
    if len(_LATIN_WORD.findall(text)) > han:
        return "en"
    changed = sum(a != b for a, b in zip(text, to_simplified(text)))
    return "zh-Hant" if changed else "zh-Hans"


class _StoreVocabulary:
    """The store as query expansion sees it (``rag.expand.Vocabulary``)."""

    def __init__(self, view: StoreView) -> None:
        self.view = view

    def known(self, words: set[str]) -> set[str]:
        by_id = {term_id(word): word for word in words}
        return {by_id[term] for term in self.view.known_terms(by_id)}

    def name_translations(self, words: set[str]) -> dict[str, set[str]]:
        return self.view.names.name_translations(words)


def build_query(text: str, encoder: Encoder, view: StoreView, settings: RetrievalSettings) -> Query:
    """Encode a validated question. Chinese questions retrieve with the adapted query tower (it
    was trained on Chinese questions; on English ones it lowered dev MRR@10). English questions gain
    Chinese keywords, encoded together with the question and averaged into its vector."""
    language = question_language(text)
    people = people_named(text) if language != "en" else ()
    # a name jieba's tokenizer glued to the word after it ("李政安是哪一年上任的?" → 李政安是) is matched as the
    # tagger cuts it, as the article's text has it ("局長李政安指出" → 李政安)
    tokens = tokenize(text)
    tokens += [person.name for person in people if person.name not in tokens]
    if settings.query_adapter and language != "en":
        vectors = encoder.encode_questions([text])
        return Query(text, language, vectors.adapted[0], vectors.base[0], tuple(tokens), _named(text, language, view), people)
    keywords = english_to_chinese(text, _StoreVocabulary(view)) if settings.query_expansion and language == "en" else []
    base = encoder.encode_questions([text, " ".join(keywords)] if keywords else [text]).base
    vector = base.sum(axis=0)
    vector /= np.linalg.norm(vector)
    return Query(text, language, vector, vector, tuple(tokens + keywords), _named(text, language, view), people)


def _named(text: str, language: Language, view: StoreView) -> tuple[Named, ...]:
    return () if language == "en" else named_in(text, view.names.name_translations)


def with_context(query: Query, earlier: Sequence[Query], weight: float) -> Query:
    """A follow-up question asked with its conversation: its vectors plus the earlier questions',
    ``weight`` for the last one and half as much for each turn before it (the new question always
    weighs most), and its tokens followed by theirs."""
    vector, base = query.vector.astype(np.float32, copy=True), query.base_vector.astype(np.float32, copy=True)
    tokens = list(query.tokens)
    for turn in reversed(earlier):
        vector += weight * turn.vector
        base += weight * turn.base_vector
        tokens += [token for token in turn.tokens if token not in tokens]
        weight /= 2
    return Query(query.text, query.language, vector / np.linalg.norm(vector), base / np.linalg.norm(base), tuple(tokens), query.named, query.people)

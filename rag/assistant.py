"""The public entry point: ``Assistant.load()`` then ``ask()``, ``add()``, ``remove()``,
``documents()``, ``document()`` and ``info()``. The page, the CLI and the evaluation tools use
nothing else."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rag import lexical
from rag.abstention import Abstainer
from rag.answer import Answer, assemble, judge_candidates
from rag.answer_types import expected_type
from rag.collection import AddResult, Collection, Verification
from rag.config import DEFAULT_COLLECTION, RetrievalSettings, Settings, check_collection_name
from rag.document import Document, DocumentSummary
from rag.embed import load_encoder
from rag.encoder import Encoder
from rag.errors import (
    IndexCorruptError,
    InvalidCollectionError,
    ModelMissingError,
    RagError,
    UnknownCollectionError,
    UnknownDocumentError,
)
from rag.expand import cedict_glosses
from rag.fixed_collection import FixedCollection
from rag.folder_collection import FolderCollection
from rag.followup import PRONOUNS, is_a_name, leans_on_context, resolved
from rag.formats import SUPPORTED_SUFFIXES
from rag.judge import Judge, JudgedSentence
from rag.query import TOP_K_RANGE, Query, build_query, validate_filter, validate_history, validate_question, validate_top_k, with_context
from rag.reader import Reader, Reading
from rag.rerank import read_sentence_ids, rerank
from rag.retrieve import Ranking, rank
from rag.store import open_store
from rag.when import asked, rerank_by_time

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class _Asked:
    """A question as asked: what decides its answer, for the cache of the last answers."""

    question: str
    history: tuple[str, ...]
    top_k: int
    since: str | None
    until: str | None
    sources: tuple[str, ...]
    documents: tuple[str, ...]
    generation: int  # another article may change the answer


_ANSWERS_KEPT = 64


@dataclass(frozen=True)
class Limits:
    """What the assistant accepts: shown by the page, enforced everywhere."""

    max_question_chars: int
    max_document_bytes: int
    top_k: tuple[int, int]
    formats: tuple[str, ...]  # file suffixes, e.g. ".txt"


@dataclass(frozen=True)
class Info:
    collection: str
    documents: int
    chunks: int
    sentences: int
    model_id: str
    store: str  # the backend, e.g. "local files"
    location: str
    updated: str
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Trace:
    """An answer with what it took: milliseconds per stage, the question's language and the
    Chinese keywords an English question gained (``Assistant.explain``)."""

    answer: Answer
    milliseconds: dict[str, float]
    language: str
    keywords: tuple[str, ...]
    sentences: tuple[JudgedSentence, ...] = ()  # the candidate sentences as the judge rated them, most likely first


class Assistant:
    """Cited, extractive answers from a collection of articles."""

    def __init__(self, settings: Settings, collection: Collection, encoder: Encoder, abstainer: Abstainer | None,
                 reader: Reader | None = None, write_lock: threading.Lock | None = None) -> None:  # fmt: skip
        self._settings = settings
        self._collection = collection
        self._store = collection.store
        self._encoder = encoder
        self._abstainer = abstainer
        self._judge = Judge.load()
        self._reader_loaded = reader  # kept for with_retrieval, which may turn the reader back on
        self._reader = reader if settings.retrieval.reader else None
        self._write_lock = write_lock or threading.Lock()  # one writer per process; the store's lock covers processes
        self._encode = lru_cache(maxsize=1024)(self._encode_uncached)  # repeated questions skip the model
        # the last answers, by question, conversation, filter and generation: a follow-up's pronoun stands
        # for its earlier turn's answer, which the page (or any caller) asked just before
        self._answered: OrderedDict[_Asked, Answer] = OrderedDict()
        self._answered_lock = threading.Lock()

    @classmethod
    def load(cls, settings: Settings | None = None, *, collection: str | None = None, encoder: Encoder | None = None,
             progress: bool = False, rebuild: bool = False, create: bool = True, rescan: bool = False,
             build: bool = True) -> Assistant:  # fmt: skip
        """Open a collection (default: ``news``, the folder ``corpus/``), building or refreshing its
        index when it is missing, stale or damaged. ``rebuild``: embed everything again even when
        the index is current; the old index answers until the new one is saved.
        ``encoder``: an already loaded model to share between assistants. ``create``: a collection
        that does not exist yet is created (empty); otherwise ``UnknownCollectionError``.
        ``rescan``: read every file of the corpus folder (finds articles edited in place) and every
        byte of the index against its checksums (``rag build``). ``build=False``: take the index as
        it is, neither building, updating nor repairing it (``verify`` reports on it)."""
        settings = settings or Settings()
        if collection is not None:
            settings = settings.for_collection(collection)
        # jieba's dictionary and the English glossary load in Python while the models load in native
        # code: overlap them
        with ThreadPoolExecutor(2) as pool:
            dictionary = pool.submit(lexical.warm_up)
            reader = pool.submit(_load_reader, settings, encoder is not None)
            glossary = pool.submit(cedict_glosses)
            encoder = encoder or load_encoder(settings)
            dictionary.result()
            glossary.result()
            loaded_reader = reader.result()
        opened = _open_collection(settings, encoder, create, build, rebuild=rebuild, progress=progress, rescan=rescan)
        return cls(settings, opened, encoder, Abstainer.load() if settings.retrieval.abstain else None, loaded_reader)

    def for_collection(self, name: str, *, create: bool = False) -> Assistant:
        """Another collection with the same model and settings (``UnknownCollectionError`` when it does
        not exist and ``create`` is false)."""
        if name == self.collection:
            return self
        settings = self._settings.for_collection(name)
        opened = _open_collection(settings, self._encoder, create, build=True)
        return Assistant(settings, opened, self._encoder, self._abstainer, self._reader)

    def collections(self) -> list[str]:
        """The names of the collections of this project: ``news`` and the folders under ``collections/``."""
        folder = self._settings.root / "collections"
        others = sorted(path.name for path in folder.iterdir() if path.is_dir() and _is_slug(path.name)) if folder.is_dir() else []
        return [DEFAULT_COLLECTION, *(name for name in others if name != DEFAULT_COLLECTION)]

    def drop(self) -> None:
        """Delete this collection, its articles and its index (not the default collection, ``news``)."""
        if self.collection == DEFAULT_COLLECTION:
            raise InvalidCollectionError(f"the default collection {DEFAULT_COLLECTION!r} cannot be removed; remove its documents instead")
        with self._write_lock:
            self._collection.drop()

    @classmethod
    def over(cls, documents: Sequence[Document], settings: Settings, *, encoder: Encoder | None = None,
             progress: bool = False) -> Assistant:  # fmt: skip
        """A read-only assistant over ``documents`` (an evaluation set), indexed in the collection
        ``settings.collection``; nothing is written to a corpus folder."""
        reader = _load_reader(settings, encoder is not None)
        encoder = encoder or load_encoder(settings)
        opened = FixedCollection(settings, open_store(settings), encoder, documents)
        opened.open(progress=progress)
        return cls(settings, opened, encoder, Abstainer.load() if settings.retrieval.abstain else None, reader)

    def with_retrieval(self, **changes: object) -> Assistant:
        """The same collection and model with other retrieval settings (for comparisons)."""
        settings = self._settings.with_retrieval(**changes)
        abstainer = Abstainer.load() if settings.retrieval.abstain else None
        other = Assistant(settings, self._collection, self._encoder, abstainer, self._reader_loaded, self._write_lock)
        other._encode = self._encode  # the questions' vectors do not depend on how they are ranked
        return other

    def clear_cache(self) -> None:
        """Forget the questions encoded and the answers kept (shared with ``with_retrieval`` copies): a
        benchmark times a question asked for the first time."""
        self._encode.cache_clear()
        with self._answered_lock:
            self._answered.clear()

    # ---- answering

    def _encode_uncached(self, text: str, adapter: bool, expansion: bool, generation: int) -> Query:
        """The store's generation is part of the key: expansion looks words up in the store."""
        retrieval = RetrievalSettings(query_adapter=adapter, query_expansion=expansion)
        return build_query(text, self._encoder, self._store.view(), retrieval)

    def ask(self, question: str, top_k: int = 5, *, history: Sequence[str] | None = None, since: str | None = None,
            until: str | None = None, sources: Sequence[str] | None = None, documents: Sequence[str] | None = None) -> Answer:  # fmt: skip
        """Ranked passages and the extractive answer (or an abstention) for ``question``.
        ``history``: the conversation's earlier questions, oldest first; a question that leans on them
        ("她是哪一年加入的?") is asked with them, any other as if alone.
        ``since``, ``until`` (``YYYY-MM-DD``, inclusive), ``sources`` and ``documents`` (ids): only the
        articles published in that period (an article without a known date is then left out), from
        those sources, among those documents (``rag.query.Filter``); the search itself is narrowed,
        so ``top_k`` passages come back whenever those articles hold them.
        ``InvalidQuestionError`` (a ``ValueError``) for an unusable question, ``top_k``, history or
        filter (an impossible date, ``since`` after ``until``, an unknown document id)."""
        return self.explain(question, top_k, history=history, since=since, until=until, sources=sources, documents=documents).answer

    def explain(self, question: str, top_k: int = 5, *, history: Sequence[str] | None = None, since: str | None = None,
                until: str | None = None, sources: Sequence[str] | None = None, documents: Sequence[str] | None = None) -> Trace:  # fmt: skip
        """``ask``, with the time each stage took and what the question became."""
        started = time.perf_counter()
        text = validate_question(question, self._settings.max_question_chars)
        top_k = validate_top_k(top_k)
        earlier = validate_history(history, self._settings.max_question_chars)
        narrowed = validate_filter(since, until, sources, documents)
        self._refresh()  # another process may have added or removed articles
        view = self._store.view()
        within = narrowed.allowed(view.filter_index) if not narrowed.empty else None  # the view's index: built once
        retrieval = self._settings.retrieval
        follows = bool(earlier and retrieval.context_turns and leans_on_context(text))
        filters = (since, until, tuple(sources or ()), tuple(documents or ()))
        referent = self._referent(_Asked(earlier[-1], earlier[:-1], top_k, *filters, view.generation)) if follows else None
        standing_for = resolved(text, *referent) if referent is not None else None
        query = self._encode(standing_for or text, retrieval.query_adapter, retrieval.query_expansion, view.generation)
        if follows and standing_for is None:  # a resolved question names whom it asks about: it stands alone
            turns = [self._encode(turn, retrieval.query_adapter, retrieval.query_expansion, view.generation)
                     for turn in earlier[-retrieval.context_turns :]]  # fmt: skip
            query = with_context(query, turns, retrieval.history_weight)
        encoded = time.perf_counter()
        ranking = rank(view, query, retrieval, top_k, within)
        ranked = time.perf_counter()
        read_n_best = self._read(ranking, retrieval) if self._reader is not None else {}
        readings = {sid: found[0] for sid, found in read_n_best.items()}  # each sentence's best reading
        if self._reader is not None:
            ranking = rerank(ranking, readings, retrieval)
        ranking = rerank_by_time(ranking, asked(text), retrieval.time_passages, retrieval.period_weight, retrieval.recency_weight)
        read = time.perf_counter()
        judged = judge_candidates(ranking, retrieval, readings, self._judge)
        answer = assemble(ranking, retrieval, self._abstainer, judged, read_n_best)
        done = time.perf_counter()
        milliseconds = {"query": (encoded - started) * 1000, "retrieve": (ranked - encoded) * 1000, "read": (read - ranked) * 1000,
                        "answer": (done - read) * 1000, "total": (done - started) * 1000}  # fmt: skip
        keywords = query.tokens[len(lexical.tokenize(standing_for or text)) :] if query.language == "en" else ()
        with self._answered_lock:
            self._answered[_Asked(text, earlier, top_k, *filters, view.generation)] = answer
            while len(self._answered) > _ANSWERS_KEPT:
                self._answered.popitem(last=False)
        return Trace(answer, milliseconds, query.language, tuple(keywords), tuple(judged))

    def _referent(self, turn: _Asked) -> tuple[str, str] | None:
        """Whom a follow-up's pronoun stands for: the answer to the last earlier ``turn``, when that asked
        for a person or a company and the answer shows one (``rag.followup.resolved``), as (kind, name);
        None otherwise. The answer is the one given before when it is among the last answers."""
        kind = expected_type(turn.question)
        if kind is None or kind.name not in PRONOUNS:
            return None
        with self._answered_lock:
            answer = self._answered.get(turn)
        if answer is None:
            answer = self.ask(turn.question, turn.top_k, history=turn.history or None, since=turn.since, until=turn.until,
                              sources=turn.sources or None, documents=turn.documents or None)  # fmt: skip
        if answer.span is None or kind.name == "person" and not is_a_name(answer.span.text):
            return None  # "江南省人民医院院长" answered "who", but "他" is no office
        return kind.name, answer.span.text

    def _read(self, ranking: Ranking, retrieval: RetrievalSettings) -> dict[int, list[Reading]]:
        """The reader on the sentences ``read_sentence_ids`` picks, in one batch: up to ``span_n_best``
        readings of each, best first (one run of the graph; only the decoding reads more spans)."""
        assert self._reader is not None
        sentence_ids = read_sentence_ids(ranking, retrieval)
        texts = [ranking.text(ranking.sentences[sid]) for sid in sentence_ids]
        readings = self._reader.read_n_best(ranking.query.text, texts, retrieval.span_n_best)
        return dict(zip(sentence_ids, readings, strict=True))

    # ---- documents

    def add(self, paths: Sequence[Path], progress: bool = False, cancel: threading.Event | None = None,
            names: Sequence[str] | None = None, date: str | None = None) -> list[AddResult]:  # fmt: skip
        """Add article files: validated, copied into the corpus, embedded, saved; all or nothing.
        A file with the name of a document added before replaces it when its text changed, and is
        reported ``unchanged`` otherwise. ``DocumentError`` names the file and the reason. Setting
        ``cancel`` stops a long add before it saves (``CancelledError``; nothing changed).
        ``names``: the names the files were uploaded under, when not their paths' (the name decides
        the file type and which earlier document a file replaces). ``date``: the files' publication
        date, ``YYYY-MM-DD``, instead of the one detected (``DocumentError`` for any other, before
        anything changes); given for a file added before with the same text, it changes its date only."""
        with self._write_lock:
            return self._collection.add(paths, progress=progress, cancel=cancel, names=names, date=date)

    def remove(self, doc_ids: Sequence[str]) -> list[Document]:
        """Remove documents by id; ``UnknownDocumentError`` (nothing removed) for an unknown id."""
        with self._write_lock:
            return self._collection.remove(doc_ids)

    def documents(self) -> list[DocumentSummary]:
        self._refresh()
        return sorted((stored.summary() for stored in self._store.view().stored_documents()), key=lambda d: d.id)

    def document(self, doc_id: str) -> Document:
        """A document with its full cleaned text (what every offset refers to)."""
        self._refresh()
        found = self._store.view().documents([doc_id])
        if doc_id not in found:
            raise UnknownDocumentError(f"no document {doc_id!r} in the collection {self._settings.collection!r}")
        return found[doc_id]

    def _refresh(self) -> None:
        """Adopt what another process committed. An index damaged under this process (a file
        truncated while in use) is repaired first, as opening repairs it (``IndexCorruptError``
        when that fails too): never a read past a mapped file's end."""
        try:
            self._store.refresh()
        except IndexCorruptError as error:
            log.warning("%s; repairing the index", error)
            with self._write_lock:
                self._collection.open()

    def verify(self) -> Verification:
        """Read every part of the index (local files: every byte against its checksum) and compare
        it with the settings, the code and the corpus folder, changing nothing: what is damaged and
        what ``rag build`` (``Assistant.load(rescan=True)``) will redo."""
        return self._collection.verify()

    # ---- describing

    @property
    def collection(self) -> str:
        return self._settings.collection

    @property
    def model_id(self) -> str:
        return self._encoder.model_id

    @property
    def limits(self) -> Limits:
        return Limits(self._settings.max_question_chars, self._settings.max_document_bytes, TOP_K_RANGE, SUPPORTED_SUFFIXES)

    def info(self) -> Info:
        self._refresh()
        store = self._store.info()
        return Info(self.collection, store.documents, store.chunks, store.sentences, self.model_id, store.backend,
                    store.location, store.updated, dict(store.details))  # fmt: skip

    def close(self) -> None:
        self._store.close()

    def __repr__(self) -> str:
        return f"Assistant(collection={self.collection!r}, model={self.model_id!r})"


def _open_collection(settings: Settings, encoder: Encoder, create: bool, build: bool, **opening: bool) -> Collection:
    """``settings.collection``, made current when ``build``; ``UnknownCollectionError`` when it does
    not exist and ``create`` is false (the default collection always exists)."""
    opened = FolderCollection(settings, open_store(settings), encoder)
    if not create and settings.collection != DEFAULT_COLLECTION and not opened.exists():
        name = settings.collection
        raise UnknownCollectionError(f"no collection named {name!r}; its first `add` creates it (rag --collection {name} add FILE)")
    if build:
        opened.open(**opening)
    return opened


def _load_reader(settings: Settings, optional: bool) -> Reader | None:
    """The reader from the prepared model folder. ``optional`` (an encoder was passed in, as tests
    and benchmarks do): no reader when the folder is not prepared, instead of an error."""
    if not settings.retrieval.reader:
        return None
    try:
        return Reader.load(settings.model_dir)
    except ModelMissingError:
        if optional:
            return None
        raise


def _is_slug(name: str) -> bool:
    try:
        check_collection_name(name)
    except RagError:
        return False
    return True


__all__ = ["AddResult", "Assistant", "Info", "Limits", "Trace", "Verification"]

"""The public entry point: ``Assistant.load()`` then ``ask()``, ``add()`` and ``info()``."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag import chunk, clean, corpus, expand, index, lexical
from rag.answer import Abstainer, Answer, assemble
from rag.config import Settings
from rag.corpus import Document, build_document, load_corpus, question_language, write_manifest
from rag.embed import Encoder
from rag.errors import DocumentError, IndexMissingError, InvalidQuestionError
from rag.expand import english_to_chinese
from rag.index import Index, build_index, extend_index
from rag.lexical import tokenize
from rag.model import read_stamp
from rag.retrieve import Query, Ranking, rank
from rag.store import describe, load_index, read_manifest, save_index, stale_reasons

# The modules whose code decides what the index holds: a change to any of them rebuilds it.
_INDEX_CODE = (clean, corpus, chunk, lexical, expand, index)


def _code_version() -> str:
    digest = hashlib.sha256()
    for module in _INDEX_CODE:
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


def document_checksum(document: Document) -> str:
    payload = json.dumps({**document.entry(), "text": document.text}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def fingerprint(settings: Settings, documents: Sequence[Document]) -> dict[str, Any]:
    """Everything the index depends on: model, chunking, code, and each document's checksum."""
    model = read_stamp(settings.model_dir)
    return {
        "model_id": model.model_id,
        "model_sha256": model.sha256,
        "dimension": model.dimension,
        "encoder_backend": settings.encoder_backend,
        "chunk": {"size": settings.chunk.size, "overlap": settings.chunk.overlap},
        "code": _code_version(),
        "corpus": {doc.id: document_checksum(doc) for doc in documents},
    }


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Assistant:
    settings: Settings
    index: Index
    encoder: Encoder
    abstainer: Abstainer | None
    index_dir: Path
    manifest: dict[str, Any]
    _write_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, settings: Settings | None = None, *, encoder: Encoder | None = None, progress: bool = False,
             rebuild: bool = False) -> Assistant:  # fmt: skip
        """Open the index of the corpus folder, building or refreshing it when it is missing or stale.

        ``rebuild``: embed everything again even when the index is current; the old index stays
        in place until the new one is saved.
        """
        settings = settings or Settings()
        documents = load_corpus(settings.corpus_dir, settings.max_document_bytes)
        return cls.open(documents, settings.index_dir, settings, encoder=encoder, progress=progress, rebuild=rebuild)

    @classmethod
    def open(cls, documents: Sequence[Document], index_dir: Path, settings: Settings, *,
             encoder: Encoder | None = None, progress: bool = False, rebuild: bool = False) -> Assistant:  # fmt: skip
        """Open (or build) the index of ``documents`` stored in ``index_dir``.

        ``encoder``: an already loaded model to share (the eval harness opens many indexes).
        """
        wanted = fingerprint(settings, documents)
        # jieba's dictionary loads in Python while the model loads in native code: overlap them
        dictionary = threading.Thread(target=lexical.warm_up, daemon=True)
        dictionary.start()
        encoder = encoder or Encoder.load(settings.model_dir, settings.encode_batch_size, settings.encoder_backend)
        dictionary.join()
        abstainer = Abstainer.load() if settings.retrieval.abstain else None
        manifest = None if rebuild else _current_manifest(index_dir)
        if manifest is None:
            _say(f"Building the index of {len(documents)} documents in {index_dir} …")
            return cls._build(documents, index_dir, settings, encoder, abstainer, wanted, progress)
        reasons = stale_reasons(manifest, wanted)
        if not reasons:
            loaded, manifest = load_index(index_dir)
            return cls(settings, loaded, encoder, abstainer, index_dir, manifest)
        _say(f"The index in {index_dir} is stale ({'; '.join(reasons)}); updating it …")
        only_added = all(reason.startswith("documents added") for reason in reasons)
        if only_added:
            loaded, _ = load_index(index_dir)
            new = [doc for doc in documents if doc.id not in loaded.documents]
            extended = extend_index(loaded, new, encoder, settings, progress)
            manifest = _save(extended, index_dir, wanted)
            return cls(settings, extended, encoder, abstainer, index_dir, manifest)
        return cls._build(documents, index_dir, settings, encoder, abstainer, wanted, progress)

    @classmethod
    def _build(cls, documents: Sequence[Document], index_dir: Path, settings: Settings, encoder: Encoder,
               abstainer: Abstainer | None, wanted: dict[str, Any], progress: bool) -> Assistant:  # fmt: skip
        started = time.perf_counter()
        built = build_index(documents, encoder, settings, progress)
        manifest = _save(built, index_dir, wanted)
        _say(f"Indexed {len(built.chunks)} chunks and {len(built.sentences)} sentences in {time.perf_counter() - started:.1f} s.")
        return cls(settings, built, encoder, abstainer, index_dir, manifest)

    def query(self, question: str) -> Query:
        """Validate and encode a question."""
        if not isinstance(question, str) or not question.strip():
            raise InvalidQuestionError("the question is empty; type a question")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise InvalidQuestionError(f"the question is {len(question):,} characters long; the limit is {limit:,}")
        text = question.strip()
        tokens = tokenize(text)
        english = question_language(text) == "en"
        # the adapter was trained on Chinese questions only; on English ones it lowered dev MRR@10
        if self.settings.retrieval.query_adapter and not english:
            adapted, base = self.encoder.encode_queries_adapted([text])
            return Query(text, adapted[0], tokens, base[0])
        expand = self.settings.retrieval.query_expansion and english
        keywords = english_to_chinese(text, self.index.expansions) if expand else []
        # the question and its Chinese keywords, encoded together and averaged
        vector = self.encoder.encode_queries([text, " ".join(keywords)] if keywords else [text]).sum(axis=0)
        vector /= np.linalg.norm(vector)
        return Query(text, vector, tokens + keywords, vector)

    def rank(self, question: str, top_k: int = 5) -> tuple[Index, Ranking]:
        """The ranking behind an answer, with the index snapshot it refers to."""
        if not 1 <= top_k <= 50:
            raise InvalidQuestionError(f"top_k must be between 1 and 50, got {top_k}")
        query = self.query(question)
        index = self.index  # one consistent snapshot even if add() swaps it meanwhile
        return index, rank(index, query, self.settings.retrieval, top_k)

    def ask(self, question: str, top_k: int = 5) -> Answer:
        """Ranked passages and the extractive answer (or an abstention) for ``question``."""
        index, ranking = self.rank(question, top_k)
        return assemble(question.strip(), index, ranking, self.settings.retrieval, self.abstainer)

    def add(self, paths: Sequence[Path], progress: bool = False) -> list[Document]:
        """Add article files: validated, copied into the corpus, embedded, saved. All or nothing."""
        with self._write_lock:
            corpus_dir = self.settings.corpus_dir
            documents = self._read_new(paths)
            extended = extend_index(self.index, documents, self.encoder, self.settings, progress)
            corpus_dir.mkdir(parents=True, exist_ok=True)
            for path, document in zip(paths, documents, strict=True):
                shutil.copyfile(path, corpus_dir / document.file)
            write_manifest(corpus_dir, list(extended.documents.values()))
            wanted = fingerprint(self.settings, list(extended.documents.values()))
            self.manifest = _save(extended, self.index_dir, wanted)
            self.index = extended
            return documents

    def _read_new(self, paths: Sequence[Path]) -> list[Document]:
        if not paths:
            raise DocumentError("no files given")
        known_bytes = {doc.sha256 for doc in self.index.documents.values()}
        known_text = {hashlib.sha256(doc.text.encode()).digest() for doc in self.index.documents.values()}
        number = len(self.index.documents)
        documents = []
        for path in map(Path, paths):
            data = path.read_bytes() if path.is_file() else b""
            doc_id = f"{number:03d}_{hashlib.sha256(data).hexdigest()[:16]}"
            document = build_document(path, doc_id, self.settings.max_document_bytes)
            text_hash = hashlib.sha256(document.text.encode()).digest()
            if document.sha256 in known_bytes or text_hash in known_text:
                raise DocumentError(f"{path.name}: this article is already in the index")
            documents.append(replace(document, file=doc_id + path.suffix.lower()))
            known_bytes.add(document.sha256)
            known_text.add(text_hash)
            number += 1
        return documents

    def info(self) -> dict[str, Any]:
        summary = describe(self.manifest)
        summary["documents"] = [
            {"id": doc.id, "title": doc.title, "source": doc.source, "date": doc.date, "script": doc.script, "characters": len(doc.text)}
            for doc in self.index.documents.values()
        ]
        summary["index_dir"] = str(self.index_dir)
        return summary


def _current_manifest(index_dir: Path) -> dict[str, Any] | None:
    try:
        return read_manifest(index_dir)
    except IndexMissingError:
        return None


def _save(built: Index, index_dir: Path, wanted: dict[str, Any]) -> dict[str, Any]:
    save_index(built, index_dir, wanted)
    return read_manifest(index_dir)

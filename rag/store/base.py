"""The retrieval store's interface: what ingestion writes and retrieval reads, whatever the engine.

A ``Store`` commits changes atomically and hands out ``StoreView``s, consistent read snapshots;
nothing above this interface knows FAISS or Milvus. Ids of chunks and sentences are ints the store
assigns once and never changes; documents are known by their string ids.

The rules every store keeps:

- **Generations.** Every commit publishes generation ``n + 1`` over the generation ``n`` it was
  computed from, in one step (the commit point): a reader sees all of a change or none of it. A view
  is one generation and stays so, whatever is committed after it was taken (``refresh`` adopts a
  newer one; views already handed out keep answering from theirs).
- **One writer at a time.** Every change is made under ``writer()``, exclusive among every process
  that writes the collection: on this host (a file lock in ``index/<collection>/``) and, where the
  engine is shared by several hosts (a Milvus server), on all of them (a lease kept in the engine,
  ``rag.store.milvus.lease``). A commit never overwrites a generation it did not start from: where
  another writer published meanwhile it is refused (``ConcurrentWriteError``), nothing published.
- **Reads.** Besides its documents and dense searches, a view declares how it finds the chunks
  BM25 scores (``lexical_recall``) and hands out the name lexicon apart (``names``): query
  expansion needs it, retrieval does not.
- **Filters.** Every search takes ``within``, the ids of the documents a question may read (its
  ``rag.query.Filter``, resolved against the view's ``filter_index``, which each view builds once),
  and applies it inside the engine's search: the ``k`` best of those documents come back, never
  fewer while they hold ``k`` pieces.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from rag.document import Document, DocumentSummary, from_entry, text_fingerprint
from rag.fingerprint import Fingerprint
from rag.store.filter_index import FilterFields, FilterIndex

REBUILD_HINT = "run `rag build` to rebuild the index"


@dataclass(frozen=True)
class ChunkRecord:
    id: int
    doc_id: str
    start: int
    end: int
    sentence_ids: tuple[int, ...]  # the sentences inside it (or overlapping it, for an overlong sentence)


@dataclass(frozen=True)
class SentenceRecord:
    id: int
    doc_id: str
    start: int
    end: int
    chunk_ids: tuple[int, ...]  # the chunks that hold it


@dataclass(frozen=True)
class IndexedDocument:
    """A document ready for a store: its pieces as offsets, their tokens and vectors (``rag.ingest``)."""

    document: Document
    chunks: tuple[tuple[int, int], ...]
    sentences: tuple[tuple[int, int], ...]
    chunk_sentences: tuple[tuple[int, ...], ...]  # per chunk, positions in ``sentences``
    chunk_terms: tuple[Mapping[int, int], ...]  # per chunk, term id → count
    chunk_lengths: tuple[int, ...]  # per chunk, its number of tokens
    chunk_vectors: np.ndarray = field(repr=False)
    sentence_vectors: np.ndarray = field(repr=False)
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # Latin name word → Chinese tokens


@dataclass(frozen=True)
class Terms:
    """What a document's text gives without the encoder (``rag.ingest.derive_terms``): per chunk its
    term counts and its length in tokens, and the names it writes both in Chinese and Latin letters."""

    chunk_terms: tuple[Mapping[int, int], ...]
    chunk_lengths: tuple[int, ...]
    names: Mapping[str, tuple[str, ...]]


TermsOf = Callable[[str, Sequence[tuple[int, int]]], Terms]  # (text, chunk offsets) → Terms


@dataclass(frozen=True)
class StoredDocument:
    """What a store keeps of a document besides its text."""

    entry: Mapping[str, object]  # the manifest entry (``Document.entry()``)
    checksum: str  # ``Document.checksum``
    characters: int
    text_sha256: str  # ``document.text_fingerprint``: the same article under another name is a duplicate
    manifest_line: str  # ``Document.manifest_line()``, kept so a large manifest is written by joining lines

    @classmethod
    def of(cls, document: Document) -> StoredDocument:
        return cls(document.entry(), document.checksum, len(document.text), text_fingerprint(document.text), document.manifest_line())

    def row(self, names: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """The row every store writes of a document besides its text and pieces (a line of a
        segment's ``entries.jsonl``, the data of a Milvus document row), with its ``names``."""
        return {"entry": dict(self.entry), "checksum": self.checksum, "characters": self.characters,
                "text_sha256": self.text_sha256, "names": {word: list(tokens) for word, tokens in names.items()}}  # fmt: skip

    @classmethod
    def from_row(cls, row: Mapping[str, Any], manifest_line: str | None = None) -> StoredDocument:
        """The inverse of ``row``; the manifest line as ``Document.manifest_line`` writes it unless
        the store keeps it apart (``manifest_line``)."""
        line = from_entry(row["entry"], "").manifest_line() if manifest_line is None else manifest_line
        return cls(row["entry"], row["checksum"], int(row["characters"]), row["text_sha256"], line)

    @property
    def id(self) -> str:
        return str(self.entry["id"])

    def filter_fields(self) -> FilterFields:
        """The fields of ``summary`` a question's filter reads, without the rest."""
        return FilterFields(self.id, self.entry.get("source"), self.entry.get("published"))  # type: ignore[arg-type]

    def summary(self) -> DocumentSummary:
        file = str(self.entry["file"])
        return DocumentSummary(
            id=self.id, name=str(self.entry.get("name") or file), format=file.rsplit(".", 1)[-1].lower() if "." in file else "",
            title=str(self.entry["title"]), script=self.entry["script"],  # type: ignore[arg-type]
            source=self.entry.get("source"), date=self.entry.get("date"), characters=self.characters,  # type: ignore[arg-type]
            published=self.entry.get("published"), date_basis=self.entry.get("date_basis"),  # type: ignore[arg-type]
        )  # fmt: skip


def stored_names(row: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The names of a stored-document row (``StoredDocument.row``)."""
    return {word: tuple(tokens) for word, tokens in row["names"].items()}


@dataclass(frozen=True)
class Change:
    """One atomic write: documents to add (consumed lazily, so a build streams), ids to remove (an
    update removes the old version and adds the new one), and what the index now reflects."""

    add: Iterable[IndexedDocument]
    remove: frozenset[str]
    fingerprint: Fingerprint
    corpus_state: str  # ``CorpusFolder.state()`` once the change is published
    rebuild: bool = False  # drop everything else


@dataclass(frozen=True)
class Damage:
    """A damaged part of an index and what repairing it redoes."""

    part: str  # a segment, the manifest, a Milvus collection …
    problem: str
    redo: Literal["vector index", "documents", "everything"]  # rebuilt from the stored vectors / its documents embedded again / all
    documents: int | None = None  # how many documents the part holds (None: unknown)


@dataclass(frozen=True)
class Check:
    """What ``Store.check`` read and found."""

    damage: tuple[Damage, ...]
    checked: str  # what was read, e.g. "2 segments, 46 files, 1.2 MB, every byte against its checksum"


@dataclass(frozen=True)
class StoreInfo:
    backend: str  # e.g. "local files", "Milvus Lite", "Milvus 2.3.5 server"
    location: str
    documents: int
    chunks: int
    sentences: int
    updated: str  # when the last change was committed (ISO 8601)
    generation: int
    details: Mapping[str, str] = field(default_factory=dict)  # e.g. the vector index of each part


LexicalRecall = Literal["exact", "sparse", "candidates"]
"""Which chunks a view's ``lexical_search`` scores, all with exact BM25 (``rag.bm25``):

- ``"exact"``: every chunk holding a query term (local files: postings);
- ``"sparse"``: the engine's sparse-vector search finds them (Milvus Lite, Milvus ≥ 2.4): BM25 weights
  of the average length at writing time, re-scored exactly, so recall is close to exact but not equal;
- ``"candidates"``: only the chunks the caller passes, found by the dense searches of the same question
  (Milvus 2.3: no sparse vectors): a re-ranking of the dense candidates, not lexical recall."""


class NameLexicon(Protocol):
    """The names the articles write both in Latin letters and in Chinese (query expansion's)."""

    def name_translations(self, words: Iterable[str]) -> dict[str, set[str]]:
        """Latin name words → the Chinese tokens the articles write the same name with."""
        ...


class StoreView(Protocol):
    """A consistent read snapshot of a store: one generation (see the module's docstring)."""

    @property
    def generation(self) -> int: ...

    @property
    def fingerprint(self) -> Fingerprint | None: ...

    @property
    def corpus_state(self) -> str | None: ...

    def stored_documents(self) -> list[StoredDocument]: ...

    @property
    def filter_index(self) -> FilterIndex:
        """The view's documents as a question's filter reads them: built at its first use, then kept
        (the view never changes), so no question walks every document."""
        ...

    def documents(self, ids: Iterable[str]) -> dict[str, Document]:
        """The documents with their texts (unknown ids left out)."""
        ...

    def search_chunks(self, vectors: np.ndarray, k: int, within: Collection[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per row of ``vectors`` (one query vector a row), the (ids, cosines) of the ``k`` chunks
        closest to it, best first: several vectors are one request where the engine allows.
        ``within``: the ids of the documents searched (None: all), applied inside the search (the
        ``k`` best of those documents, never fewer when they hold ``k`` chunks)."""
        ...

    def search_sentences(self, vectors: np.ndarray, k: int, within: Collection[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]]: ...

    @property
    def lexical_recall(self) -> LexicalRecall:
        """Which chunks ``lexical_search`` scores."""
        ...

    @property
    def names(self) -> NameLexicon: ...

    def lexical_search(self, term_ids: Sequence[int], k: int, candidates: Collection[int] = (),
                       within: Collection[str] | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """(ids, BM25 scores > 0) of the ``k`` best chunks for the query's term ids, in query order,
        among the chunks ``lexical_recall`` says; ``candidates`` are read only where it is
        ``"candidates"`` (and then required: without them nothing is found). ``within``: only the
        chunks of these documents are scored (the statistics stay the collection's)."""
        ...

    def known_terms(self, term_ids: Iterable[int]) -> set[int]:
        """The term ids some chunk of the store contains."""
        ...

    def chunks(self, ids: Iterable[int]) -> dict[int, ChunkRecord]: ...

    def sentences(self, ids: Iterable[int]) -> dict[int, SentenceRecord]: ...

    def sentence_vectors(self, ids: Sequence[int]) -> np.ndarray: ...

    def pieces(self, ids: Iterable[str]) -> dict[str, IndexedDocument]:
        """The documents as ingestion made them: their pieces, terms, names and vectors read back,
        never encoded (a document whose description changed but not its text is written again from
        them). Unknown ids, and documents the store cannot give whole, are left out."""
        ...


class Store(Protocol):
    """A collection's index in some engine (its rules: the module's docstring)."""

    def view(self) -> StoreView:
        """The latest generation this process knows (cheap; call ``refresh`` to look for newer ones)."""
        ...

    def refresh(self) -> bool:
        """Adopt a newer generation committed by another process; True when there was one."""
        ...

    def commit(self, change: Change) -> None:
        """Apply ``change`` to the latest generation, atomically, as the next generation: readers see
        all of it or none of it. The caller holds ``writer()``; a generation another writer published
        meanwhile is never overwritten (``ConcurrentWriteError``)."""
        ...

    def rework(self, fingerprint: Fingerprint, derive: TermsOf | None) -> None:
        """Make the index one made with ``fingerprint`` where that needs no encoder, atomically: the
        vector indexes rebuilt from the stored vectors; with ``derive``, every chunk's terms and every
        document's names derived again from the stored texts. The caller holds ``writer()``."""
        ...

    def check(self, checksums: bool) -> Check:
        """Look for damage without changing anything: what a cheap check can see (sizes, the state
        being readable), or with ``checksums`` everything that can be verified."""
        ...

    def repair(self, damage: Sequence[Damage]) -> None:
        """Remove what ``check`` found damaged short of "everything", in one commit that records no
        corpus state (so the next open indexes the documents that went missing from the folder):
        parts holding documents are dropped, vector indexes rebuilt from the stored vectors. The
        caller holds ``writer()``."""
        ...

    def writer(self) -> AbstractContextManager[None]:
        """Exclusive across every process that writes the collection, on any host sharing the engine:
        held around every change. Waits ``Settings.lock_timeout_s`` at most, then refuses with
        ``IndexBusyError``."""
        ...

    def info(self) -> StoreInfo: ...

    def exists(self) -> bool:
        """Whether anything was ever committed."""
        ...

    def has_leftovers(self) -> bool:
        """Whether a write that died left something behind (staging, temporary files)."""
        ...

    def remove_leftovers(self) -> None:
        """Remove what dead writes left behind; the caller holds ``writer()``."""
        ...

    def drop(self) -> None:
        """Delete the whole index (a removed collection)."""
        ...

    def close(self) -> None: ...


def top_k(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (ids, scores), best first; equal scores keep their order."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.argsort(-scores[best], kind="stable")]
    return ids[best], scores[best]

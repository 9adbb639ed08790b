"""From documents to what a store holds: chunks and sentences with offsets, their tokens, their
vectors, and the names an article writes both in Chinese and in Latin letters.

Documents are embedded in batches of about ``BATCH_PIECES`` pieces, so building a large archive
keeps a bounded amount in memory and shows progress per batch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

from tqdm import tqdm

from rag import chunk, clean, corpus, document, expand, formats, lexical, vectors
from rag.chunk import chunk_spans, split_sentences
from rag.config import Settings
from rag.document import Document
from rag.encoder import Encoder
from rag.errors import CancelledError
from rag.expand import names_written_both_ways
from rag.fingerprint import Fingerprint, installed_versions
from rag.lexical import term_counts, tokenize
from rag.store.base import IndexedDocument, Terms

BATCH_PIECES = 4096
# What decides the index's content, each step versioned by hand beside its code (rag.fingerprint says
# what a change of each costs; tests/rag/test_ingest.py fails when an output changes without a bump).
VERSIONS = {
    "document": document.DOCUMENT_VERSION,
    "describe": corpus.DESCRIPTION_VERSION,
    "clean": clean.CLEANING_VERSION,
    **{f"extract.{kind}": version for kind, version in formats.EXTRACTION_VERSIONS.items()},
    "chunk": chunk.CHUNKING_VERSION,
    "sentences": chunk.SENTENCES_VERSION,
    "tokens": lexical.TOKENS_VERSION,
    "names": expand.NAMES_VERSION,
    "vector_index": vectors.VECTOR_INDEX_VERSION,
}
# Libraries whose outputs the index keeps: an upgrade of one redoes what it decides (rag.fingerprint)
LIBRARIES = ("jieba", "opencc", "pypdfium2", "python-docx", "lxml", "langchain-text-splitters")


@cache
def library_versions() -> dict[str, str]:
    installed = installed_versions(LIBRARIES)
    return {name: installed.get(name, "not installed") for name in LIBRARIES}


def fingerprint(settings: Settings, encoder: Encoder) -> Fingerprint:
    """Search-time settings (``ivf_probe``, retrieval) are not part of it: they change nothing stored."""
    return Fingerprint(
        model_id=encoder.model_id, model_sha256=encoder.model_sha256, dimension=encoder.dimension,
        encoder_backend=encoder.backend, chunk_size=settings.chunk.size, chunk_overlap=settings.chunk.overlap,
        exact_max=settings.vectors.exact_max, ivf_lists_per_sqrt=settings.vectors.ivf_lists_per_sqrt,
        versions=dict(VERSIONS), libraries=library_versions(),
    )  # fmt: skip


@dataclass(frozen=True)
class _Split:
    document: Document
    chunks: list[tuple[int, int]]
    sentences: list[tuple[int, int]]

    @property
    def pieces(self) -> int:
        return len(self.chunks) + len(self.sentences)


def contained_sentences(chunks: Sequence[tuple[int, int]], sentences: Sequence[tuple[int, int]]) -> list[tuple[int, ...]]:
    """Per chunk, the sentences inside it; when none fits (a sentence longer than a chunk), those
    overlapping it (versioned with the chunks: ``chunk.CHUNKING_VERSION``)."""
    contained = []
    for start, end in chunks:
        inside = tuple(i for i, (s, e) in enumerate(sentences) if s >= start and e <= end)
        contained.append(inside or tuple(i for i, (s, e) in enumerate(sentences) if s < end and e > start))
    return contained


def derive_terms(text: str, chunks: Sequence[tuple[int, int]]) -> Terms:
    """Tokens and names of a text (no encoder): what a store derives again after a tokeniser change."""
    tokens = [tokenize(text[start:end]) for start, end in chunks]
    names = {word: tuple(sorted(t for t in chinese if len(t) > 1)) for word, chinese in names_written_both_ways([text]).items()}
    return Terms(
        chunk_terms=tuple(term_counts(chunk_tokens) for chunk_tokens in tokens),
        chunk_lengths=tuple(len(chunk_tokens) for chunk_tokens in tokens),
        names={word: chinese for word, chinese in names.items() if chinese},
    )


def _index(split: _Split, chunk_vectors: object, sentence_vectors: object) -> IndexedDocument:
    terms = derive_terms(split.document.text, split.chunks)
    return IndexedDocument(
        document=split.document,
        chunks=tuple(split.chunks),
        sentences=tuple(split.sentences),
        chunk_sentences=tuple(contained_sentences(split.chunks, split.sentences)),
        chunk_terms=terms.chunk_terms,
        chunk_lengths=terms.chunk_lengths,
        chunk_vectors=chunk_vectors,  # type: ignore[arg-type]
        sentence_vectors=sentence_vectors,  # type: ignore[arg-type]
        names=terms.names,
    )


def _embed(batch: list[_Split], encoder: Encoder) -> Iterator[IndexedDocument]:
    chunk_texts = [split.document.text[s:e] for split in batch for s, e in split.chunks]
    sentence_texts = [split.document.text[s:e] for split in batch for s, e in split.sentences]
    chunk_vectors = encoder.encode_passages(chunk_texts)
    sentence_vectors = encoder.encode_passages(sentence_texts)
    chunk_at = sentence_at = 0
    for split in batch:
        yield _index(split, chunk_vectors[chunk_at : chunk_at + len(split.chunks)],
                     sentence_vectors[sentence_at : sentence_at + len(split.sentences)])  # fmt: skip
        chunk_at += len(split.chunks)
        sentence_at += len(split.sentences)


def index_documents(documents: Iterable[Document], encoder: Encoder, settings: Settings, progress: bool = False,
                    total: int | None = None, cancel: threading.Event | None = None) -> Iterator[IndexedDocument]:  # fmt: skip
    """Split, tokenise and embed ``documents`` lazily, about ``BATCH_PIECES`` pieces at a time, so
    memory stays bounded and progress shows per batch. ``cancel``: checked before each batch
    (``CancelledError``: the caller's change never commits)."""
    splits = (_Split(document, chunk_spans(document.text, settings.chunk), split_sentences(document.text)) for document in documents)
    with tqdm(total=total, desc="Indexing", unit="doc", disable=not progress) as bar:
        for batch in _batches(splits):
            if cancel is not None and cancel.is_set():
                raise CancelledError("cancelled before it was saved; nothing was added")
            yield from _embed(batch, encoder)
            bar.update(len(batch))


def _batches(splits: Iterable[_Split]) -> Iterator[list[_Split]]:
    """Whole documents, about ``BATCH_PIECES`` pieces a batch; a document longer than that is one
    batch of its own (its pieces are embedded ``Settings.encode_batch_size`` at a time anyway)."""
    batch: list[_Split] = []
    pieces = 0
    for split in splits:
        batch.append(split)
        pieces += split.pieces
        if pieces >= BATCH_PIECES:
            yield batch
            batch, pieces = [], 0
    if batch:
        yield batch

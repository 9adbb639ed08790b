"""The searchable index in memory: documents, chunks, sentences, their vectors and BM25.

``build_index`` embeds a corpus from scratch; ``extend_index`` embeds only new documents'
chunks and sentences and returns a new index (the old one is never modified).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import faiss
import numpy as np

from rag.chunk import Chunk, chunk_text, split_sentences
from rag.config import Settings
from rag.corpus import Document
from rag.embed import Encoder
from rag.lexical import LexicalIndex, tokenize
from rag.vectors import build_faiss_index


@dataclass(frozen=True)
class Sentence:
    doc_id: str
    start: int
    end: int


@dataclass
class Index:
    documents: dict[str, Document]
    chunks: list[Chunk]
    sentences: list[Sentence]
    sentence_vectors: np.ndarray
    chunk_vectors: faiss.Index
    lexical: LexicalIndex
    _sentences_by_doc: dict[str, list[int]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._sentences_by_doc = {doc_id: [] for doc_id in self.documents}
        for sid, sentence in enumerate(self.sentences):
            self._sentences_by_doc[sentence.doc_id].append(sid)

    def chunk_sentences(self, chunk_id: int) -> list[int]:
        """Ids of the sentences that lie inside chunk ``chunk_id``."""
        chunk = self.chunks[chunk_id]
        return [
            sid
            for sid in self._sentences_by_doc[chunk.doc_id]
            if self.sentences[sid].start >= chunk.start and self.sentences[sid].end <= chunk.end
        ]


@dataclass(frozen=True)
class _Pieces:
    chunks: list[Chunk]
    tokens: list[list[str]]
    sentences: list[Sentence]


def _split(documents: Sequence[Document], settings: Settings) -> _Pieces:
    chunks = [chunk for doc in documents for chunk in chunk_text(doc.id, doc.text, settings.chunk)]
    sentences = [Sentence(doc.id, start, end) for doc in documents for start, end in split_sentences(doc.text)]
    return _Pieces(chunks, [tokenize(chunk.text) for chunk in chunks], sentences)


def _encode(pieces: _Pieces, documents: dict[str, Document], encoder: Encoder, progress: bool) -> tuple[np.ndarray, np.ndarray]:
    chunk_vectors = encoder.encode_passages([chunk.text for chunk in pieces.chunks], progress=progress)
    sentence_texts = [documents[s.doc_id].text[s.start : s.end] for s in pieces.sentences]
    sentence_vectors = encoder.encode_passages(sentence_texts, progress=progress)
    return chunk_vectors, sentence_vectors


def build_index(documents: Sequence[Document], encoder: Encoder, settings: Settings, progress: bool = False) -> Index:
    by_id = {doc.id: doc for doc in documents}
    pieces = _split(documents, settings)
    chunk_vectors, sentence_vectors = _encode(pieces, by_id, encoder, progress)
    return Index(
        documents=by_id,
        chunks=pieces.chunks,
        sentences=pieces.sentences,
        sentence_vectors=sentence_vectors,
        chunk_vectors=build_faiss_index(chunk_vectors, settings.vectors),
        lexical=LexicalIndex.build(pieces.tokens),
    )


def extend_index(index: Index, documents: Sequence[Document], encoder: Encoder, settings: Settings, progress: bool = False) -> Index:
    """A new index with ``documents`` added; only their text is embedded."""
    by_id = {**index.documents, **{doc.id: doc for doc in documents}}
    pieces = _split(documents, settings)
    chunk_vectors, sentence_vectors = _encode(pieces, by_id, encoder, progress)
    vectors = faiss.clone_index(index.chunk_vectors)
    vectors.add(chunk_vectors)
    return Index(
        documents=by_id,
        chunks=index.chunks + pieces.chunks,
        sentences=index.sentences + pieces.sentences,
        sentence_vectors=np.vstack([index.sentence_vectors, sentence_vectors]),
        chunk_vectors=vectors,
        lexical=index.lexical.extend(pieces.tokens),
    )

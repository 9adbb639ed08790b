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
from rag.expand import Expansions, build_expansions
from rag.lexical import LexicalIndex, normalize_for_matching, tokenize
from rag.vectors import build_faiss_index, grow_faiss_index


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
    expansions: Expansions
    chunk_sentences: list[list[int]] = field(init=False, repr=False)
    """Per chunk, the sentences inside it (or overlapping it, when a sentence outgrows chunks)."""
    sentence_chunks: list[list[int]] = field(init=False, repr=False)
    """Per sentence, the chunks that hold it."""
    _matching_text: dict[int, str] = field(init=False, repr=False, default_factory=dict)

    def sentence_text(self, sentence_id: int) -> str:
        sentence = self.sentences[sentence_id]
        return self.documents[sentence.doc_id].text[sentence.start : sentence.end]

    def sentence_matching_text(self, sentence_id: int) -> str:
        """The sentence as lexical matching sees it (Simplified, lower case), computed once."""
        text = self._matching_text.get(sentence_id)
        if text is None:
            text = self._matching_text[sentence_id] = normalize_for_matching(self.sentence_text(sentence_id))
        return text

    def __post_init__(self) -> None:
        by_doc: dict[str, list[int]] = {doc_id: [] for doc_id in self.documents}
        for sid, sentence in enumerate(self.sentences):
            by_doc[sentence.doc_id].append(sid)
        self.chunk_sentences = []
        self.sentence_chunks = [[] for _ in self.sentences]
        for chunk_id, chunk in enumerate(self.chunks):
            candidates = by_doc[chunk.doc_id]
            inside = [s for s in candidates if self.sentences[s].start >= chunk.start and self.sentences[s].end <= chunk.end]
            if not inside:
                inside = [s for s in candidates if self.sentences[s].start < chunk.end and self.sentences[s].end > chunk.start]
            self.chunk_sentences.append(inside)
            for sid in inside:
                self.sentence_chunks[sid].append(chunk_id)


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
    lexical = LexicalIndex.build(pieces.tokens)
    return Index(
        documents=by_id,
        chunks=pieces.chunks,
        sentences=pieces.sentences,
        sentence_vectors=sentence_vectors,
        chunk_vectors=build_faiss_index(chunk_vectors, settings.vectors),
        lexical=lexical,
        expansions=build_expansions((doc.text for doc in documents), lexical.vocabulary),
    )


def extend_index(index: Index, documents: Sequence[Document], encoder: Encoder, settings: Settings, progress: bool = False) -> Index:
    """A new index with ``documents`` added; only their text is embedded."""
    by_id = {**index.documents, **{doc.id: doc for doc in documents}}
    pieces = _split(documents, settings)
    chunk_vectors, sentence_vectors = _encode(pieces, by_id, encoder, progress)
    vectors = grow_faiss_index(index.chunk_vectors, chunk_vectors, settings.vectors)
    lexical = index.lexical.extend(pieces.tokens)
    return Index(
        documents=by_id,
        chunks=index.chunks + pieces.chunks,
        sentences=index.sentences + pieces.sentences,
        sentence_vectors=np.vstack([index.sentence_vectors, sentence_vectors]),
        chunk_vectors=vectors,
        lexical=lexical,
        expansions=build_expansions((doc.text for doc in by_id.values()), lexical.vocabulary),
    )

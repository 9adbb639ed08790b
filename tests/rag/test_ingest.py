"""From documents to what a store holds: chunks and sentences with exact offsets, the sentences each
chunk holds, tokens and vectors, in bounded batches that a cancel stops before the next one."""

from __future__ import annotations

import threading

import pytest
from fakes import FakeEncoder

from rag import ChunkSettings, Settings
from rag.document import Document
from rag.errors import CancelledError
from rag.ingest import BATCH_PIECES, contained_sentences, index_documents

TEXT = "米拉·穆拉蒂(Mira Murati)宣布辞去OpenAI首席技术官一职。她在公司工作了六年半。奥特曼表示感谢。"


def _document(doc_id: str, text: str = TEXT) -> Document:
    return Document(id=doc_id, file=f"{doc_id}.txt", title=text[:8], script="zh-Hans", sha256="0" * 64, text=text)


def test_a_chunk_holds_the_sentences_inside_it_or_else_those_it_overlaps():
    # chunks (0, 10) and (8, 30); sentences (0, 4), (4, 9), (9, 30): the first chunk holds the first two;
    # the second starts inside the second sentence, so it holds only the third
    assert contained_sentences([(0, 10), (8, 30)], [(0, 4), (4, 9), (9, 30)]) == [(0, 1), (2,)]
    assert contained_sentences([(5, 8)], [(0, 10)]) == [(0,)]  # a sentence longer than the chunk


def test_a_document_becomes_pieces_with_exact_offsets_tokens_vectors_and_names():
    settings = Settings(chunk=ChunkSettings(size=30, overlap=5))
    encoder = FakeEncoder()
    (indexed,) = index_documents([_document("d")], encoder, settings)
    text = indexed.document.text
    assert [text[s:e] for s, e in indexed.sentences] == ["米拉·穆拉蒂(Mira Murati)宣布辞去OpenAI首席技术官一职。", "她在公司工作了六年半。", "奥特曼表示感谢。"]
    assert indexed.chunk_vectors.shape == (len(indexed.chunks), 64) and indexed.sentence_vectors.shape == (3, 64)
    assert encoder.passages == len(indexed.chunks) + 3
    assert all(length == sum(counts.values()) for counts, length in zip(indexed.chunk_terms, indexed.chunk_lengths, strict=True))
    assert set(indexed.names) == {"mira", "murati"}  # written both ways in the article: 米拉·穆拉蒂(Mira Murati)


def test_documents_are_embedded_in_batches_and_a_cancel_stops_before_the_next(monkeypatch):
    monkeypatch.setattr("rag.ingest.BATCH_PIECES", 3)  # each document (3 sentences and chunks) fills a batch
    cancel, encoder = threading.Event(), FakeEncoder()
    batches = index_documents([_document(f"d{n}") for n in range(3)], encoder, Settings(), cancel=cancel)
    first = next(batches)
    cancel.set()
    with pytest.raises(CancelledError, match="nothing was added"):
        next(batches)
    assert first.document.id == "d0" and encoder.passages == 4  # one batch: 1 chunk and 3 sentences
    assert BATCH_PIECES == 4096

"""The Milvus view's round trips on a real 2.3 server: what a question reads, and what it does not read again."""

from __future__ import annotations

import os

import pytest
from fakes import FakeEncoder

from rag import ChunkSettings, Settings
from rag.corpus import Document
from rag.ingest import fingerprint, index_documents
from rag.lexical import term_id
from rag.store import open_store
from rag.store.base import Change

pytestmark = [pytest.mark.milvus, pytest.mark.milvus_server]
TEXTS = ["米拉·穆拉蒂宣布辞去OpenAI首席技术官一职。奥特曼对她的贡献表示感谢。", "奧特曼曾向台積電高管提出建造36座晶圓廠的計劃。台積電是全球最大的晶圓代工廠。"]


def test_bm25_re_ranks_the_chunk_search_hits_without_reading_them_again(milvus_uri, tmp_path, monkeypatch):
    settings = Settings(root=tmp_path, cache_dir=tmp_path / "cache", store=milvus_uri, collection=f"view-{os.getpid()}",
                        chunk=ChunkSettings(size=40, overlap=10), lexical_scan_max=0)  # fmt: skip
    documents = [Document(id=f"d{n}", file=f"d{n}.txt", title=f"d{n}", script="zh-Hans", sha256=str(n), text=text) for n, text in enumerate(TEXTS)]
    store, encoder = open_store(settings), FakeEncoder()
    try:
        with store.writer():
            store.commit(Change(index_documents(documents, encoder, settings), frozenset(), fingerprint(settings, encoder), ""))
        view = store.view()
        assert view.lexical_recall == "candidates"
        ((ids, _),) = view.search_chunks(encoder.encode_questions(["奥特曼感谢了谁?"]).base, 10)
        reads = []
        monkeypatch.setattr(view, "_get", lambda table, wanted, output: reads.append(list(wanted)) or [])
        found, scores = view.lexical_search([term_id("奥特曼")], 10, ids.tolist())
        assert [wanted for wanted in reads if wanted] == [] and len(found) == 2 and all(scores > 0)
    finally:
        store.drop()
        store.close()

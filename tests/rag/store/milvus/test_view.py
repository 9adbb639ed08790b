"""The Milvus view's round trips: on a real 2.3 server, what a question reads and what it does not read
again; on Lite, the filter expressions its searches send."""

from __future__ import annotations

import os

import numpy as np
import pytest
from fakes import FakeEncoder
from pymilvus import MilvusClient

from rag import ChunkSettings, Settings
from rag.corpus import Document
from rag.ingest import fingerprint, index_documents
from rag.lexical import term_id
from rag.store import open_store
from rag.store.base import Change
from rag.store.milvus import view as milvus_view
from rag.store.milvus.expression import ExpressionLimits, document_filters

pytestmark = pytest.mark.milvus
TEXTS = ["米拉·穆拉蒂宣布辞去OpenAI首席技术官一职。奥特曼对她的贡献表示感谢。", "奧特曼曾向台積電高管提出建造36座晶圓廠的計劃。台積電是全球最大的晶圓代工廠。"]


@pytest.mark.milvus_server
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


@pytest.fixture(params=["lite", pytest.param("server", marks=pytest.mark.milvus_server)])
def store_at(request, tmp_path):
    """Where a test's store is: a Lite file or the session's server (a collection of its own, dropped after)."""
    stores = []

    def opened(count: int):
        where = str(tmp_path / "store.db") if request.param == "lite" else request.getfixturevalue("milvus_uri")
        stores.append(_store(tmp_path, where, count))
        return stores[-1]

    yield opened
    for store, _ in stores:
        if request.param == "server":
            store.drop()
        store.close()


def _store(tmp_path, where: str, count: int):
    settings = Settings(root=tmp_path, cache_dir=tmp_path / "cache", store=where, collection=f"filters-{os.getpid()}",
                        chunk=ChunkSettings(size=40, overlap=10))  # fmt: skip
    texts = [TEXTS[n % 2].replace("。", f"（第{n}篇）。") for n in range(count)]  # (the fake encoder still scores some pieces alike)
    documents = [Document(id=f"d{n:02d}", file=f"d{n}.txt", title=f"d{n}", script="zh-Hans", sha256=str(n), text=text) for n, text in enumerate(texts)]
    store, encoder = open_store(settings), FakeEncoder()
    with store.writer():
        store.commit(Change(index_documents(documents, encoder, settings), frozenset(), fingerprint(settings, encoder), ""))
    return store, encoder


def _sent_filters(monkeypatch) -> list[str]:
    sent: list[str] = []
    search = MilvusClient.search
    monkeypatch.setattr(MilvusClient, "search", lambda client, *args, **kwargs: sent.append(kwargs["filter"]) or search(client, *args, **kwargs))
    return sent


def test_a_wide_filter_sends_the_few_documents_it_leaves_out(store_at, monkeypatch):
    store, encoder = store_at(12)
    view, sent = store.view(), _sent_filters(monkeypatch)
    vector = encoder.encode_questions(["奥特曼感谢了谁?"]).base
    ((everywhere, all_scores),) = view.search_chunks(vector, 100)
    records = view.chunks(everywhere.tolist())
    within = {f"d{n:02d}" for n in range(12)} - {"d03"}
    ((found, scores),) = view.search_chunks(vector, 100, within)
    kept = [(i, score) for i, score in zip(everywhere.tolist(), all_scores.tolist(), strict=True) if records[i].doc_id != "d03"]
    assert set(found.tolist()) == {i for i, _ in kept} and np.allclose(scores, [score for _, score in kept])  # ties in either order
    assert sent[-1] == "(dkey < 12) and (not (dkey in [3]))"  # d03 is the fourth document written: key 3


def test_a_filter_too_long_for_one_expression_is_searched_in_parts_and_the_best_of_all_kept(store_at, monkeypatch):
    """Expressions of at most 40 characters: a filter of 7 documents (10 and 11 last, a range)
    is several requests a search, whose hits merged are the unfiltered search's among those documents."""
    limits = ExpressionLimits(max_chars=40, max_ranges=1, min_run=2)
    monkeypatch.setattr(milvus_view, "document_filters", lambda admitted, held: document_filters(admitted, held, limits))
    store, encoder = store_at(12)
    view, sent = store.view(), _sent_filters(monkeypatch)
    vectors = encoder.encode_questions(["奥特曼感谢了谁?", "台积电要建多少座晶圆厂?"]).base
    within = {"d00", "d02", "d03", "d05", "d07", "d10", "d11"}
    for search, records in ((view.search_chunks, view.chunks), (view.search_sentences, view.sentences)):
        for vector, (everywhere, all_scores) in zip(vectors, search(vectors, 100), strict=True):
            docs = {i: r.doc_id for i, r in records(everywhere.tolist()).items()}
            expected = [(i, score) for i, score in zip(everywhere.tolist(), all_scores.tolist(), strict=True) if docs[i] in within]
            for k in (1, 4, 100):
                sent.clear()
                ((found, scores),) = search(vector.reshape(1, -1), k, within)
                # pieces of equal scores (the fake encoder's) may come in either order
                assert np.allclose(scores, [score for _, score in expected[:k]]) and set(found.tolist()) <= {i for i, _ in expected}
                assert len(sent) >= 2 and any("(dkey >= 10)" in expression for expression in sent), sent  # 10 and 11: the last keys
    terms = [term_id("奥特曼"), term_id("台积电")]
    all_ids, all_scores = view.lexical_search(terms, 100)
    docs = {i: c.doc_id for i, c in view.chunks(all_ids.tolist()).items()}
    sent.clear()
    some_ids, some_scores = view.lexical_search(terms, 100, (), within)
    assert dict(zip(some_ids.tolist(), np.round(some_scores, 5).tolist(), strict=True)) == {
        i: s for i, s in zip(all_ids.tolist(), np.round(all_scores, 5).tolist(), strict=True) if docs[i] in within}  # fmt: skip
    assert len(sent) >= 2 or view.lexical_recall != "sparse"  # a 2.3 server scores every chunk it read once, no search

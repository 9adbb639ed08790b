"""The Milvus client's calls on a real 2.3 server: a read of a collection the server does not hold
loaded loads it and is asked again."""

from __future__ import annotations

import os

import pytest
from fakes import FakeEncoder
from pymilvus import MilvusClient

from rag import ChunkSettings, Settings
from rag.corpus import Document
from rag.ingest import fingerprint, index_documents
from rag.store import open_store
from rag.store.base import Change

pytestmark = [pytest.mark.milvus, pytest.mark.milvus_server]


def test_a_read_of_a_released_collection_loads_it_and_is_asked_again(milvus_uri, tmp_path):
    # a second host's writer that creates the meta collection while this one reads it, or an operator
    # who releases collections, leaves them unloaded behind this process's back: a CI run failed with
    # "could not read the writer lease (collection not loaded)"
    settings = Settings(root=tmp_path, cache_dir=tmp_path / "cache", store=milvus_uri, collection=f"released-{os.getpid()}",
                        chunk=ChunkSettings(size=40, overlap=10))  # fmt: skip
    document = Document(id="d0", file="d0.txt", title="d0", script="zh-Hans", sha256="0", text="米拉·穆拉蒂宣布辞去OpenAI首席技术官一职。")
    store, encoder = open_store(settings), FakeEncoder()
    operator = MilvusClient(milvus_uri)
    try:
        with store.writer():
            store.commit(Change(index_documents([document], encoder, settings), frozenset(), fingerprint(settings, encoder), ""))
        for name in operator.list_collections():
            if name.endswith(f"released_h{os.getpid()}"):
                operator.release_collection(name)
        with store.writer():  # reads the state row and the writer lease from the released meta collection
            store.commit(Change([], frozenset({"d0"}), fingerprint(settings, encoder), ""))
        assert store.view().stored_documents() == []
    finally:
        operator.close()
        store.drop()
        store.close()

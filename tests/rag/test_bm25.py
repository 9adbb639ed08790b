"""BM25 computed at query time from the store's postings equals bm25s (the reference) on the same
chunks, also after documents are removed and added (scores within float32 rounding)."""

from __future__ import annotations

import random

import bm25s
import numpy as np
import pytest
from fakes import FakeEncoder

from rag import ChunkSettings, Settings
from rag.bm25 import idf, term_weights
from rag.config import VectorIndexSettings
from rag.document import Document
from rag.ingest import index_documents
from rag.lexical import term_id, tokenize
from rag.store.base import Change
from rag.store.local import LocalStore

WORDS = ["openai", "奥特曼", "融资", "估值", "台积电", "晶圆", "离职", "首席", "技术官", "微软", "股份", "模型", "发布", "公司"]


def _article(rng: random.Random, number: int) -> Document:
    lines = ["".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + "。" for _ in range(rng.randint(2, 6))]
    text = "\n".join(lines)
    return Document(id=f"d{number}", file=f"d{number}.txt", title=lines[0], script="zh-Hans", sha256=str(number), text=text)


def _reference(texts: list[str], query: list[str]) -> np.ndarray:
    retriever = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    retriever.index([tokenize(text) for text in texts], show_progress=False)
    known = [token for token in query if token in retriever.vocab_dict]
    return np.asarray(retriever.get_scores(known), dtype=np.float32) if known else np.zeros(len(texts), np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_bm25s_after_adds_and_removals(tmp_path, seed):
    rng = random.Random(seed)
    settings = Settings(root=tmp_path, chunk=ChunkSettings(size=30, overlap=5), vectors=VectorIndexSettings(), max_segments=3)
    store, encoder = LocalStore(settings), FakeEncoder()
    from rag.ingest import fingerprint

    documents = [_article(rng, n) for n in range(12)]
    with store.writer():
        for batch in (documents[:6], documents[6:9], documents[9:]):  # three segments, then merges
            store.commit(Change(index_documents(batch, encoder, settings), frozenset(), fingerprint(settings, encoder), "s"))
        store.commit(Change([], frozenset({"d2", "d7"}), fingerprint(settings, encoder), "s"))
    view = store.view()
    live = [d for d in documents if d.id not in {"d2", "d7"}]
    chunk_ids, texts = [], []
    for document in live:
        ids = sorted(i for i, c in view.chunks(range(200)).items() if c.doc_id == document.id)
        chunk_ids += ids
        texts += [document.text[c.start : c.end] for c in view.chunks(ids).values()]
    for query in (["openai", "估值"], ["奥特曼", "奥特曼", "离职"], ["台积电"], ["不存在"]):
        expected = _reference(texts, query)
        ids, scores = view.lexical_search([term_id(token) for token in query], k=len(texts))
        found = dict(zip(ids.tolist(), scores.tolist(), strict=True))
        got = np.array([found.get(chunk_id, 0.0) for chunk_id in chunk_ids], dtype=np.float32)
        assert np.allclose(got, expected, rtol=1e-6, atol=1e-7), query


def test_formula_on_a_hand_computed_case():
    # N = 4 chunks, df = 1: idf = ln(1 + 3.5 / 1.5) = 1.2039728; tf 2, dl 10, avgdl 5:
    # 2 / (1.5 · (0.25 + 0.75 · 2) + 2) = 2 / 4.625 = 0.4324324
    assert float(idf(1, 4)) == pytest.approx(1.2039728, rel=1e-6)
    assert float(term_weights(np.array([2]), np.array([10]), 5.0)[0]) == pytest.approx(0.4324324, rel=1e-6)

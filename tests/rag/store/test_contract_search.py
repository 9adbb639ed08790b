"""The store contract's search, on every engine (``test_contract.py``): BM25 scores equal to the local
store's, several vectors in one call, which chunks the lexical search scores, approximate vector
indexes and their rework without the encoder, nprobe, and filters inside every search."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
from fakes import FakeEncoder
from store_engines import ENGINES, NEW_ARTICLE, Engine, answers, article

from rag import Assistant, VectorIndexSettings
from rag.document import Document
from rag.ingest import fingerprint, index_documents
from rag.lexical import term_id
from rag.store import open_store
from rag.store.base import Change


def _article(rng: random.Random, number: int) -> Document:
    words = ["openai", "奥特曼", "融资", "估值", "台积电", "晶圆", "离职", "首席", "技术官", "微软", "股份", "模型", "发布", "公司"]
    lines = ["".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + "。" for _ in range(rng.randint(2, 6))]
    return Document(id=f"d{number}", file=f"d{number}.txt", title=lines[0], script="zh-Hans", sha256=str(number), text="\n".join(lines))


def test_bm25_scores_equal_the_local_stores_after_adds_and_removals(engine, local_twin):
    """Exact equality after every commit, df maintained across commits. On 2.3 both ways: every
    chunk of a small collection (rows read by an earlier view are not read again), and the given
    candidates re-ranked (all chunks given)."""
    rng = random.Random(7)
    documents = [_article(rng, n) for n in range(12)]
    writers = [open_store(replace(s, max_segments=2)) for s in (engine.settings, local_twin.settings)]
    readers = [open_store(replace(engine.settings, lexical_scan_max=0))] if engine.name == "server" else []
    encoder = FakeEncoder()
    stamp = fingerprint(engine.settings, encoder)
    for batch, removed in ((documents[:6], ()), (documents[6:9], ()), (documents[9:], ()), ([], ("d2", "d7"))):
        for store in writers:
            with store.writer():
                store.commit(Change(index_documents(batch, encoder, engine.settings), frozenset(removed), stamp, "s"))
        for reader in readers:
            reader.refresh()
        reference = writers[1].view()
        for view in [writers[0].view()] + [reader.view() for reader in readers]:
            given = range(1000) if view.lexical_recall == "candidates" else ()  # 2.3 re-ranks given candidates (all chunks)
            for query in (["openai", "估值"], ["奥特曼", "奥特曼", "离职"], ["台积电"], ["不存在"], ["公司", "发布", "模型", "微软"]):
                terms = [term_id(token) for token in query]
                found = [dict(zip(*(a.tolist() for a in v.lexical_search(terms, 100, given)), strict=True)) for v in (view, reference)]
                assert found[0] == found[1], (query, view.lexical_recall)
                assert view.known_terms(terms) == reference.known_terms(terms)
    for store in writers + readers:
        store.close()


def test_several_vectors_are_searched_in_one_call_as_each_alone(engine):
    engine.open()
    view = engine.store().view()
    vectors = FakeEncoder().encode_questions(["穆拉蒂辞去首席技术官", "台积电的晶圆厂"]).base
    for search in (view.search_chunks, view.search_sentences):
        together = search(vectors, 2)  # the two best are far apart: a batch's rounding cannot swap them
        alone = [search(vector.reshape(1, -1), 2)[0] for vector in vectors]
        assert [ids.tolist() for ids, _ in together] == [ids.tolist() for ids, _ in alone]
        assert all(np.allclose(a[1], b[1], atol=1e-6) for a, b in zip(together, alone, strict=True))
        assert len(together) == 2 and together[0][0].tolist() != together[1][0].tolist()


def test_each_store_says_which_chunks_its_lexical_search_scores(engine):
    """Exact BM25 over every chunk locally, sparse candidates on Lite; on 2.3 (no sparse vectors)
    every chunk of a small collection, else only the given dense candidates: ``lexical_recall``
    says which, and it holds."""
    engine.open()
    terms = [term_id("奥特曼")]  # in both articles
    expected = {"local": ["exact"], "lite": ["sparse"], "server": ["exact", "candidates"]}[engine.name]
    for recall, scan_max in zip(expected, (5_000, 0), strict=False):
        store = open_store(replace(engine.settings, lexical_scan_max=scan_max))
        engine.stores.append(store)
        store.refresh()
        view = store.view()
        everywhere = set(view.lexical_search(terms, 10)[0].tolist())
        (one, *_) = sorted(view.lexical_search(terms, 10, range(1000))[0].tolist())
        assert view.lexical_recall == recall
        given = set(view.lexical_search(terms, 10, [one])[0].tolist())
        if recall == "candidates":
            assert everywhere == set() and given == {one}
        else:
            assert len(everywhere) >= 2 and given == everywhere


def indexes(assistant: Assistant) -> tuple[str, str]:
    details = assistant.info().details
    return details["chunk vectors"], details["sentence vectors"]


def sentence_index(engine: Engine) -> str:
    """A server's sentence tables are HNSW graphs (their IVF search was its slowest stage); Lite
    keeps IVF_FLAT, the local store IVF-SQ8."""
    return "HNSW (M 16, efConstruction 200, ef ≥ 256)" if engine.name == "server" else "IVF_FLAT (nlist 1, nprobe 1)"


@pytest.mark.parametrize("engine", ENGINES[1:], indirect=True)  # the local store's IVF needs more vectors than lists
def test_beyond_exact_max_vectors_get_an_approximate_index(engine, local_twin):
    assistant, reference = engine.open(vectors=VectorIndexSettings(exact_max=3)), local_twin.open()
    assert (indexes(assistant)) == ("FLAT", sentence_index(engine))  # 3 chunks, 5 sentences
    assert answers(assistant) == answers(reference)  # one list: every vector is found
    assistant.add([article(engine, "c.txt", NEW_ARTICLE)])  # a fourth chunk: its table moves to a new one with IVF_FLAT
    reference.add([article(local_twin, "c.txt", NEW_ARTICLE)])
    assert indexes(assistant) == ("IVF_FLAT (nlist 1, nprobe 1)", sentence_index(engine))
    assert answers(assistant) == answers(reference) and answers(engine.open(vectors=VectorIndexSettings(exact_max=3))) == answers(reference)
    assert not engine.leftovers()


def test_a_vector_index_or_tokeniser_change_is_made_from_what_the_store_holds_without_the_encoder(engine, monkeypatch):
    from rag import ingest

    assistant = engine.open()
    assistant.add([article(engine, "c.txt", NEW_ARTICLE)])
    assistant.remove(["a"])
    before, generation = answers(assistant), engine.store().view().generation
    encoder = FakeEncoder()
    approximate = VectorIndexSettings(exact_max=3, ivf_lists_per_sqrt=0.5)  # one list: every vector is found
    reshaped = engine.open(encoder=encoder, vectors=approximate)
    assert encoder.passages == 0 and engine.store().view().generation == generation + 1
    assert ("HNSW" if engine.name == "server" else "IVF") in indexes(reshaped)[1].upper() and answers(reshaped) == before
    monkeypatch.setitem(ingest.VERSIONS, "tokens", ingest.VERSIONS["tokens"] + 1)
    retokenised = engine.open(encoder=encoder, vectors=approximate)
    assert encoder.passages == 0 and engine.store().view().generation == generation + 2
    assert answers(retokenised) == before and sorted(d.id for d in retokenised.documents()) == sorted(d.id for d in assistant.documents())
    assert not engine.leftovers()


def test_nprobe_is_read_by_each_search_and_rebuilds_nothing(engine):
    approximate = VectorIndexSettings(exact_max=3, ivf_lists_per_sqrt=0.5)
    before = answers(engine.open(vectors=approximate))
    generation = engine.store().view().generation
    encoder = FakeEncoder()
    probing = engine.open(encoder=encoder, vectors=replace(approximate, ivf_probe=1))
    assert encoder.passages == 0 and engine.store().view().generation == generation
    searched = replace(approximate, ivf_probe=1, hnsw_ef=1)  # the server's sentences: ef ≥ k all the same
    assert ("ef ≥ 1)" if engine.name == "server" else "nprobe 1)") in indexes(engine.open(encoder=encoder, vectors=searched))[1]
    assert answers(probing) == before  # one list: all is found with one probe


DATED = {  # file → (the date given when it is added, its text): a.txt and b.txt have no date
    "c.txt": ("2023-11-21", "奥特曼被董事会解雇。员工发出公开信要求董事会辞职。微软宣布聘请奥特曼。文章来自微信公众号“新智元”。"),
    "d.txt": ("2024-09-26", "米拉·穆拉蒂宣布离职。奥特曼感谢她的贡献。首席研究官也宣布离开公司。OpenAI正在进行新一轮融资。"),
    "e.txt": ("2024-10-03", "OpenAI完成66亿美元融资。估值达到1570亿美元。微软和英伟达参与了本轮融资。奥特曼表示资金将用于研究。"),
}


def test_a_filter_narrows_every_search_inside_the_engine_and_still_fills_top_k(engine):
    """Dense chunk and sentence searches and BM25 return only the allowed documents' pieces, as many
    as asked for while they hold that many; through the facade, every passage satisfies the filter."""
    assistant = engine.open()
    ids = {name: assistant.add([article(engine, name, text)], date=day)[0].document.id for name, (day, text) in DATED.items()}
    view = engine.store().view()
    within = {ids["d.txt"], ids["e.txt"]}
    held = view.pieces(within)
    chunks, sentences = sum(len(p.chunks) for p in held.values()), sum(len(p.sentences) for p in held.values())
    assert chunks >= 4 and sentences == 8  # four sentences each
    vector = FakeEncoder().encode_questions(["米拉·穆拉蒂宣布辞去OpenAI首席技术官一职"]).base  # a.txt's first sentence
    for k in (1, 3, 100):
        ((found, _),) = view.search_chunks(vector, k, within)
        assert {c.doc_id for c in view.chunks(found.tolist()).values()} <= within and len(found) == min(k, chunks)
        ((found, _),) = view.search_sentences(vector, k, within)
        assert {s.doc_id for s in view.sentences(found.tolist()).values()} <= within and len(found) == min(k, sentences)
    ((everywhere, _),) = view.search_chunks(vector, 3)
    assert not {c.doc_id for c in view.chunks(everywhere.tolist()).values()} <= within  # unfiltered, a.txt comes first
    assert view.search_chunks(vector, 3, set())[0][0].tolist() == []
    terms = [term_id("奥特曼"), term_id("融资")]  # in a, b, c, d and e; in d and e
    given = range(10_000)  # Milvus 2.3 re-ranks given candidates: all of them
    all_ids, all_scores = view.lexical_search(terms, 100, given)
    docs = {i: c.doc_id for i, c in view.chunks(all_ids.tolist()).items()}
    expected = {i: round(float(score), 5) for i, score in zip(all_ids.tolist(), all_scores.tolist(), strict=True) if docs[i] in within}
    some_ids, some_scores = view.lexical_search(terms, 100, given, within)
    assert {i: round(float(score), 5) for i, score in zip(some_ids.tolist(), some_scores.tolist(), strict=True)} == expected and len(expected) >= 2
    assert len(view.lexical_search(terms, 1, given, within)[0]) == 1
    # through the facade: since, until, sources, documents
    later = assistant.ask("穆拉蒂宣布辞去首席技术官了吗?", top_k=3, since="2024-09-01")
    assert len(later.passages) == 3 and {p.doc_id for p in later.passages} <= within and all(p.date >= "2024-09-01" for p in later.passages)
    assert all(c.date is not None and c.date >= "2024-09-01" for c in later.citations)
    earlier = assistant.ask("奥特曼被解雇了吗?", top_k=5, until="2023-12-31")  # a.txt and b.txt have no date: left out
    assert earlier.passages and {p.doc_id for p in earlier.passages} == {ids["c.txt"]}
    by_source = assistant.ask("奥特曼被解雇了吗?", top_k=5, sources=["新智元"])
    assert by_source.passages and {p.doc_id for p in by_source.passages} == {ids["c.txt"]}
    chosen = assistant.ask("奥特曼被解雇了吗?", top_k=5, documents=["a", ids["e.txt"]])
    assert chosen.passages and {p.doc_id for p in chosen.passages} <= {"a", ids["e.txt"]}
    nothing = assistant.ask("奥特曼被解雇了吗?", since="2030-01-01")
    assert nothing.passages == [] and nothing.abstained

"""The store contract, on every engine: local files, Milvus Lite and a Milvus 2.3 server (started once
for the session). The same questions, changes and crashes through the facade with the fake encoder;
answers and BM25 scores must equal the local store's."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeEncoder

from rag import Assistant, ChunkSettings, Settings, StoreUnavailableError, VectorIndexSettings
from rag.document import Document
from rag.ingest import fingerprint, index_documents
from rag.lexical import term_id
from rag.store import open_store
from rag.store.base import Change, Store

ARTICLES = {
    "a.txt": "米拉·穆拉蒂宣布辞去OpenAI首席技术官一职。她在公司工作了六年半。奥特曼对她的贡献表示感谢。",
    "b.txt": "台積電是全球最大的晶圓代工廠。奧特曼曾向台積電高管提出建造36座晶圓廠的計劃。",
}
QUESTIONS = ["谁辞去了首席技术官?", "台积电要建多少座晶圆厂?", "奥特曼感谢了谁?", "Who resigned as CTO of OpenAI?"]
NEW_ARTICLE = "Sora是OpenAI的视频生成模型。它尚未公开推出。"
LONG_ARTICLE = "航天局宣布,月球南极基地将于2031年建成。基地可供四名宇航员长期居住。首批设备将由重型火箭分三次运送。"
SCRIPT = Path(__file__).resolve().parents[2] / "store_process.py"
ENGINES = ["local", pytest.param("lite", marks=pytest.mark.milvus),
           pytest.param("server", marks=[pytest.mark.milvus, pytest.mark.milvus_server])]  # fmt: skip
_serial = itertools.count()


@dataclass
class Engine:
    name: str
    settings: Settings
    opened: list[Assistant] = field(default_factory=list)
    stores: list[Store] = field(default_factory=list)

    def open(self, rebuild: bool = False, encoder: FakeEncoder | None = None, **changes: object) -> Assistant:
        assistant = Assistant.load(replace(self.settings, **changes), encoder=encoder or FakeEncoder(), rebuild=rebuild)  # type: ignore[arg-type]
        self.opened.append(assistant)
        return assistant

    def store(self) -> Store:
        """The collection's store, apart from any assistant's (which tests do not reach into)."""
        store = open_store(self.settings)
        store.refresh()
        self.stores.append(store)
        return store

    def leftovers(self) -> bool:
        return self.store().has_leftovers()

    def close(self) -> None:
        """Lite serves a file to one process: close before another process opens it."""
        for assistant in self.opened:
            assistant.close()
        for store in self.stores:
            store.close()
        self.opened.clear()
        self.stores.clear()

    def run(self, action: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        given = {"root": str(self.settings.root), "store": self.settings.store, "collection": self.settings.collection}
        return subprocess.run([sys.executable, str(SCRIPT), json.dumps(given), action, *args], capture_output=True, text=True, check=False,
                              env=_child_env(), timeout=timeout)  # fmt: skip


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SCRIPT.parent), *sys.path])}


def _settings(root: Path, store: str | None, collection: str) -> Settings:
    settings = Settings(root=root, cache_dir=root / "cache", store=store, collection=collection, chunk=ChunkSettings(size=40, overlap=10))
    settings.corpus_dir.mkdir(parents=True)
    for name, text in ARTICLES.items():
        (settings.corpus_dir / name).write_text(text, encoding="utf-8")
    return settings


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A collection of the two articles on one engine. Its name holds a '-' (escaped in Milvus names)
    and is new on the shared server."""
    store = None if request.param == "local" else str(tmp_path / "store.db") if request.param == "lite" else request.getfixturevalue("milvus_uri")
    engine = Engine(request.param, _settings(tmp_path / "project", store, f"c{os.getpid()}-{next(_serial)}"))
    yield engine
    engine.close()
    if engine.name == "server":
        store = open_store(engine.settings)
        store.drop()
        store.close()


@pytest.fixture()
def local_twin(tmp_path: Path) -> Engine:
    """The same collection in local files: the reference the others must equal."""
    return Engine("local", _settings(tmp_path / "twin", None, "twin"))


def answers(assistant: Assistant) -> list[list[tuple[str, int, int, float]]]:
    return [[(p.doc_id, p.start, p.end, round(p.score, 4)) for p in assistant.ask(q, top_k=3).passages] for q in QUESTIONS]


def article(engine: Engine, name: str, text: str) -> Path:
    path = engine.settings.root / name
    path.write_text(text, encoding="utf-8")
    return path


def corpus_files(engine: Engine) -> list[str]:
    return sorted(p.name for p in engine.settings.corpus_dir.iterdir())


# ---- answering and changing


def test_answers_equal_the_local_stores(engine, local_twin):
    assistant, reference = engine.open(), local_twin.open()
    assert answers(assistant) == answers(reference)
    info = assistant.info()
    assert (info.documents, info.chunks, info.sentences) == (2, reference.info().chunks, reference.info().sentences)
    assert info.store == {"local": "local files", "lite": "Milvus Lite", "server": "Milvus 2.3.5 server"}[engine.name]


def test_an_added_article_is_embedded_alone_and_replaced_when_its_text_changes(engine, local_twin):
    encoder = FakeEncoder()  # it counts what it embedded
    assistant = engine.open(encoder=encoder)
    embedded = encoder.passages
    path = article(engine, "c.txt", NEW_ARTICLE)
    (added,) = assistant.add([path])
    assert added.status == "added" and encoder.passages - embedded == 3  # one chunk, two sentences
    assert assistant.ask("Sora是什么?", top_k=1).passages[0].doc_id == added.document.id
    reference = local_twin.open()
    reference.add([article(local_twin, "c.txt", NEW_ARTICLE)])
    assert answers(assistant) == answers(reference) and assistant.info().documents == 3
    generation = engine.store().view().generation
    assert assistant.add([path])[0].status == "unchanged" and engine.store().view().generation == generation
    path.write_text("Sora是OpenAI的视频生成模型。它已于2024年12月公开推出。", encoding="utf-8")
    (updated,) = assistant.add([path])
    assert updated.status == "updated" and updated.document.id == added.document.id and assistant.info().documents == 3
    text = engine.open().document(added.document.id).text
    assert "2024" in text and "尚未" not in text
    passages = assistant.ask("Sora推出了吗?", top_k=3).passages
    assert [assistant.document(p.doc_id).text[p.start : p.end] for p in passages if p.doc_id == added.document.id] == [text]


def test_removed_articles_are_gone_and_without_any_the_collection_abstains(engine):
    assistant = engine.open()
    (removed,) = assistant.remove(["a"])
    assert removed.id == "a" and [d.id for d in assistant.documents()] == ["b"]
    assert all(p.doc_id == "b" for p in assistant.ask("穆拉蒂辞职了吗?", top_k=3).passages)
    assert [d.id for d in engine.open().documents()] == ["b"] and corpus_files(engine) == ["b.txt", "manifest.json"]
    assistant.remove(["b"])
    answer = assistant.ask("谁辞职了?")
    assert answer.abstained and answer.passages == []
    reopened = engine.open()
    assert reopened.info().documents == 0 and reopened.ask("谁辞职了?").abstained
    (added,) = reopened.add([article(engine, "c.txt", NEW_ARTICLE)])  # and it fills up again
    assert reopened.ask("Sora是什么?", top_k=1).passages[0].doc_id == added.document.id


# ---- persistence and other readers


def test_what_one_process_wrote_another_process_reads(engine):
    assistant = engine.open()
    (added,) = assistant.add([article(engine, "c.txt", NEW_ARTICLE)])
    expected = [[p.doc_id, p.start, p.end] for p in assistant.ask("Sora是什么?", top_k=3).passages]
    engine.close()
    done = engine.run("state", "Sora是什么?")
    assert done.returncode == 0, done.stderr[-2000:]
    state = json.loads(done.stdout.splitlines()[-1])
    assert state == {"documents": sorted(["a", "b", added.document.id]), "passages": expected, "embedded": 0}


def test_another_reader_sees_a_write_at_once_and_a_view_taken_before_stays_as_it_was(engine):
    writer, reader = engine.open(), engine.open()
    assert reader.info().documents == 2
    store = engine.store()
    view = store.view()
    vector = FakeEncoder().encode_questions(["穆拉蒂辞去首席技术官"]).base[0]
    before = (view.search_chunks(vector.reshape(1, -1), 10)[0], view.documents(["a"])["a"].text, {d.id for d in view.stored_documents()})
    (added,) = writer.add([article(engine, "c.txt", "穆拉蒂辞去首席技术官后创办了新公司。")])
    writer.remove(["a"])
    after = (view.search_chunks(vector.reshape(1, -1), 10)[0], view.documents(["a"])["a"].text, {d.id for d in view.stored_documents()})
    assert [a.tolist() for a in after[0]] == [b.tolist() for b in before[0]] and after[1:] == before[1:]
    assert reader.ask("穆拉蒂创办了什么?", top_k=1).passages[0].doc_id == added.document.id
    assert [d.id for d in reader.documents()] == sorted(["b", added.document.id]) and store.refresh() and store.view() is not view


# ---- crashes


def _die_at_commit_point(engine: Engine, monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    """A KeyboardInterrupt right before or after the store's commit point: as good as kill -9 for
    what the store holds (no cleanup of ours runs after it)."""
    if engine.name == "local":
        from rag.store import local

        original = local.write_atomic

        def write(path: Path, data: bytes) -> None:
            if path.name == local.CURRENT and when == "before":
                raise KeyboardInterrupt
            original(path, data)
            if path.name == local.CURRENT:
                raise KeyboardInterrupt

        monkeypatch.setattr(local, "write_atomic", write)
    else:
        from rag.store.milvus import MilvusStore

        publish = MilvusStore._publish

        def published(self: MilvusStore, state: object) -> None:
            if when == "before":
                raise KeyboardInterrupt
            publish(self, state)  # type: ignore[arg-type]
            raise KeyboardInterrupt

        monkeypatch.setattr(MilvusStore, "_publish", published)


def test_a_write_dying_before_its_commit_point_changes_nothing_and_after_it_is_completed(engine, local_twin, monkeypatch, messages):
    assistant = engine.open()
    _die_at_commit_point(engine, monkeypatch, "before")
    with pytest.raises(KeyboardInterrupt):
        assistant.add([article(engine, "d.txt", LONG_ARTICLE)])
    monkeypatch.undo()
    if engine.name != "local":
        assert engine.leftovers()  # its rows are in Milvus, invisible
    assert assistant.info().documents == 2 and all(p.doc_id in "ab" for p in assistant.ask("月球基地哪年建成?").passages)
    reopened = engine.open()  # the next writer removes what it left, before its ids are used again
    assert not engine.leftovers() and reopened.info().documents == 2
    assert corpus_files(engine) == ["a.txt", "b.txt", "manifest.json"]
    path = article(engine, "c.txt", NEW_ARTICLE)
    reference = local_twin.open()
    reference.add([article(local_twin, "c.txt", NEW_ARTICLE)])
    _die_at_commit_point(engine, monkeypatch, "after")
    with pytest.raises(KeyboardInterrupt):
        reopened.add([path])
    monkeypatch.undo()
    messages.take()
    completed = engine.open()
    assert "Completed an interrupted change" in messages.take()
    (added,) = [d for d in completed.documents() if d.name == "c.txt"]
    assert completed.info().documents == 3 and completed.ask("Sora是什么?", top_k=1).passages[0].doc_id == added.id
    assert f"{added.id}.txt" in corpus_files(engine) and not engine.leftovers()
    assert answers(completed) == answers(reference) and completed.ask("月球基地哪年建成?").passages == reference.ask("月球基地哪年建成?").passages


def test_a_writer_killed_at_its_commit_point_leaves_the_old_state_or_the_new(engine):
    engine.open()
    for when, names in (("before", {"a.txt", "b.txt"}), ("after", {"a.txt", "b.txt", "c.txt"})):
        engine.close()
        killed = engine.run("add", str(article(engine, "c.txt", NEW_ARTICLE)), when)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        reopened = engine.open()
        assert {d.name for d in reopened.documents()} == names, when
        assert not engine.leftovers() and len(corpus_files(engine)) == len(names) + 1
    reopened.add([article(engine, "d.txt", "之后的一篇文章。内容完整。")])  # and the next write works
    assert reopened.info().documents == 4


def test_a_rebuild_replaces_everything_and_a_dead_one_changes_nothing(engine, monkeypatch):
    assistant = engine.open()
    before = answers(assistant)
    _die_at_commit_point(engine, monkeypatch, "before")
    with pytest.raises(KeyboardInterrupt):
        engine.open(rebuild=True)
    monkeypatch.undo()
    assert answers(assistant) == before and answers(engine.open()) == before
    rebuilt = engine.open(rebuild=True)
    assert answers(rebuilt) == before and rebuilt.info().documents == 2 and not engine.leftovers()


# ---- BM25, indexes, errors


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


def test_an_index_with_the_last_releases_fingerprint_opens_without_embedding(engine):
    """The release wrote a digest of its code instead of versions (migrated: rag/fingerprint.py)."""
    before = answers(engine.open())
    store = engine.store()
    legacy = {key: value for key, value in store.view().fingerprint.as_dict().items() if key not in ("versions", "libraries")}
    legacy |= {"ivf_probe": 128, "code": "6fcc244d15ba39be"}
    if engine.name == "local":
        manifest = engine.settings.index_dir / (engine.settings.index_dir / "CURRENT").read_text()
        manifest.write_text(json.dumps(json.loads(manifest.read_text()) | {"fingerprint": legacy}))
    else:
        from rag.store.milvus.schema import DUMMY, STATE_ID

        state = store.view().state.to_json() | {"fingerprint": legacy}
        store.milvus.client.upsert(store.meta, [{"id": STATE_ID, "state": state, "dummy": DUMMY}])
    encoder = FakeEncoder()
    reopened = engine.open(encoder=encoder)
    assert encoder.passages == 0 and answers(reopened) == before and reopened.verify().redo == ()


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


def test_a_description_change_rewrites_the_documents_from_their_stored_pieces_without_the_encoder(engine, monkeypatch):
    """Every document described anew (here: dated 2020-02-29) is written again from the pieces the
    store gives back (``StoreView.pieces``): the same offsets, terms and vectors, no embedding."""
    from rag import corpus, ingest

    assistant = engine.open()
    assistant.add([article(engine, "c.txt", NEW_ARTICLE)])
    before, generation = answers(assistant), engine.store().view().generation
    pieces = engine.store().view().pieces(["a", "missing"])
    assert list(pieces) == ["a"] and pieces["a"].document.text == ARTICLES["a.txt"] and pieces["a"].chunk_vectors.shape[0] == len(pieces["a"].chunks)
    monkeypatch.setitem(ingest.VERSIONS, "describe", ingest.VERSIONS["describe"] + 1)
    monkeypatch.setattr(corpus, "publication", lambda raw, metadata=None: {"date": "2020年2月29日", "published": "2020-02-29", "date_basis": "test"})
    encoder = FakeEncoder()
    reopened = engine.open(encoder=encoder)
    assert encoder.passages == 0 and engine.store().view().generation == generation + 1
    assert {d.published for d in reopened.documents()} == {"2020-02-29"} and len(reopened.documents()) == 3
    assert answers(reopened) == before and not engine.leftovers()


def test_verify_finds_damage_changing_nothing_and_opening_repairs_it(engine):
    assistant = engine.open()
    before = answers(assistant)
    assert assistant.verify().ok and assistant.verify().redo == ()
    if engine.name == "local":  # a lost file: its segment's documents are embedded again
        (segment,) = (engine.settings.index_dir / "segments").iterdir()
        (segment / "chunk_vectors.bin").unlink()
        expected = (segment.name, "documents", 2)
    else:  # a garbled state row: Milvus checks what it stores itself, so this is what can be found
        from rag.store.milvus.schema import DUMMY, STATE_ID

        store = engine.store()
        store.milvus.client.upsert(store.meta, [{"id": STATE_ID, "state": {"format": 99}, "dummy": DUMMY}])
        expected = (store.meta, "everything", None)
    report = Assistant.load(engine.settings, encoder=FakeEncoder(), build=False).verify()
    assert not report.ok and [(d.part, d.redo, d.documents) for d in report.damage] == [expected] and len(report.redo) == 1
    assert not Assistant.load(engine.settings, encoder=FakeEncoder(), build=False).verify().ok  # nothing was changed
    repaired = engine.open()
    assert answers(repaired) == before and repaired.verify().ok and repaired.verify().redo == ()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("store", ["ftp://milvus.example", "localhost:19530", "index.sqlite", "/no/such/folder/x.db", "http://"])
def test_a_store_setting_that_is_no_milvus_location_is_refused_with_the_accepted_forms(tmp_path, store):
    with pytest.raises(StoreUnavailableError, match=r"\.db|does not exist") as refused:
        open_store(Settings(root=tmp_path, store=store))
    assert store in str(refused.value) or "/no/such/folder" in str(refused.value)


@pytest.mark.milvus
@pytest.mark.parametrize("listening", [False, True], ids=["nothing listening", "never answers"])
def test_an_unreachable_server_is_reported_within_seconds(tmp_path, listening):
    port = _free_port()
    silent = socket.socket()
    if listening:  # the kernel accepts connections that nobody ever answers
        silent.bind(("127.0.0.1", port))
        silent.listen(8)
    started = time.monotonic()
    try:
        with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port}"):
            Assistant.load(Settings(root=tmp_path, store=f"http://127.0.0.1:{port}"), encoder=FakeEncoder())
    finally:
        silent.close()
    assert time.monotonic() - started < 6


@pytest.mark.milvus
def test_a_lite_file_open_in_another_process_is_refused_with_what_to_do(tmp_path):
    settings = _settings(tmp_path, str(tmp_path / "store.db"), "news")
    holder = subprocess.Popen([sys.executable, str(SCRIPT), json.dumps({"root": str(tmp_path), "store": settings.store, "collection": "news"}), "hold"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env())  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreUnavailableError, match="another process.*one process per file.*Milvus server"):
            open_store(settings)
    finally:
        holder.communicate(timeout=60)
    store = open_store(settings)  # free again once it exited
    store.refresh()
    assert store.view().generation == 1
    store.close()

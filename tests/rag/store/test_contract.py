"""The store contract, on every engine: local files, Milvus Lite and a Milvus 2.3 server (started once
for the session). The same questions, changes and crashes through the facade with the fake encoder;
answers must equal the local store's. Reads, writes, generations, crashes, upgrades, repairs and the
store setting's errors here; search, BM25, vector indexes and filters in test_contract_search.py.
The engines and the helpers both share are in ``tests/store_engines.py``."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes import FakeEncoder
from store_engines import ARTICLES, NEW_ARTICLE, SCRIPT, Engine, answers, article, child_env, corpus_files, engine_settings

from rag import Assistant, Settings, StoreUnavailableError
from rag.store import open_store

LONG_ARTICLE = "航天局宣布,月球南极基地将于2031年建成。基地可供四名宇航员长期居住。首批设备将由重型火箭分三次运送。"


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


@pytest.mark.xdist_group("forked")  # on local files, forked as the tests of test_processes.py
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


@pytest.mark.xdist_group("forked")  # on local files, forked as the tests of test_processes.py
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


# ---- upgrades and repairs


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


# ---- errors


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
    settings = engine_settings(tmp_path, str(tmp_path / "store.db"), "news")
    holder = subprocess.Popen([sys.executable, str(SCRIPT), json.dumps({"root": str(tmp_path), "store": settings.store, "collection": "news"}), "hold"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())  # fmt: skip
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

"""The local store beyond the contract: views that only move forward, mapped files checked while
in use."""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import replace
from pathlib import Path

from rag import Assistant
from rag.config import Settings
from rag.corpus import Document
from rag.ingest import fingerprint, index_documents
from rag.store.base import Change
from rag.store.local import CURRENT, LocalStore
from rag.store.local_view import LocalManifest
from rag.store.segment import has_lookups


def _document(number: int) -> Document:
    text = f"第{number}篇新闻。某公司今天宣布了第{number}项计划。"
    return Document(id=f"n{number}", file=f"n{number}.txt", title=text, script="zh-Hans", sha256=str(number), text=text)


def test_a_slow_refresh_never_puts_back_a_generation_older_than_a_commit(tiny, monkeypatch):
    """A refresh reads generation 2 (written by another store) slowly; meanwhile this store commits
    generation 3. The refresh ends after the commit: the view stays at 3."""
    settings, encoder = tiny
    Assistant.load(settings, encoder=encoder)
    store, other = LocalStore(settings), LocalStore(settings)
    store.refresh()
    with other.writer():
        other.commit(Change(index_documents([_document(1)], encoder, settings), frozenset(), fingerprint(settings, encoder), "s"))
    read, resume = threading.Event(), threading.Event()
    parse = LocalManifest.from_json.__func__  # type: ignore[attr-defined]

    def slow(cls, data, path):  # the refreshing thread pauses once it has read generation 2
        manifest = parse(cls, data, path)
        if threading.current_thread().name == "slow-refresh":
            read.set()
            resume.wait(10)
        return manifest

    monkeypatch.setattr(LocalManifest, "from_json", classmethod(slow))
    refreshing = threading.Thread(target=store.refresh, name="slow-refresh")
    refreshing.start()
    assert read.wait(10)
    with store.writer():
        store.commit(Change(index_documents([_document(2)], encoder, settings), frozenset(), fingerprint(settings, encoder), "s"))
    assert store.view().generation == 3
    resume.set()
    refreshing.join(10)
    assert store.view().generation == 3 and "n2" in store.view().documents(["n2"])
    assert not store.refresh() and store.view().generation == 3


def test_a_mapped_file_touched_but_whole_is_mapped_again_not_repaired(tiny, caplog):
    settings, encoder = tiny
    assistant = Assistant.load(settings, encoder=encoder)
    before, embedded = assistant.ask("谁辞去了首席技术官?").passages, encoder.passages
    generation = (settings.index_dir / CURRENT).read_text()
    (segment,) = (settings.index_dir / "segments").iterdir()
    path = segment / "sentence_vectors.bin"
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 10**9))  # a backup tool's touch
    assert assistant.ask("谁辞去了首席技术官?").passages == before
    assert encoder.passages == embedded and (settings.index_dir / CURRENT).read_text() == generation
    assert "sentence_vectors.bin changed while in use" in caplog.text and "repairing" not in caplog.text


def test_a_collection_dropped_and_created_again_is_seen_though_its_generations_start_over(tiny):
    settings, encoder = tiny
    first = Assistant.load(settings, encoder=encoder)
    for number in (1, 2):
        article = settings.root / f"n{number}.txt"
        article.write_text(_document(number).text, encoding="utf-8")
        first.add([article])
    reader = LocalStore(settings)
    reader.refresh()
    assert reader.view().generation == 3
    LocalStore(settings).drop()
    Assistant.load(settings, encoder=encoder)  # the corpus folder is still there: built again, generation 1
    assert reader.refresh() and reader.view().generation == 1 and len(reader.view().stored_documents()) == 4


def test_a_filter_over_a_segment_with_an_ivf_index_is_searched_with_an_id_selector_and_completed_exactly(tiny, monkeypatch):
    """Past ``EXACT_ROWS`` allowed rows the IVF index searches them with a FAISS id selector; when the
    lists probed hold fewer than ``k`` of them the rows are searched exactly: as many as asked either way."""
    from fakes import FakeEncoder

    from rag import Assistant, VectorIndexSettings
    from rag.store import local, local_view

    settings, encoder = tiny
    settings = replace(settings, vectors=VectorIndexSettings(exact_max=1, ivf_lists_per_sqrt=1.0, ivf_probe=1))
    Assistant.load(settings, encoder=encoder)
    store = local.LocalStore(settings)
    store.refresh()
    view = store.view()
    assert "ivf-sq8" in view.details()["chunk vectors"]
    vector = FakeEncoder().encode_questions(["台積電是全球最大的晶圓代工廠"]).base
    expected = {name: view.search_sentences(vector, 100, {"a"})[0] for name in ("exact",)}["exact"]
    monkeypatch.setattr(local_view, "EXACT_ROWS", 0)
    for k in (1, 2, 100):
        ((found, scores),) = view.search_sentences(vector, k, {"a"})
        assert found.tolist() == expected[0][:k].tolist() and {s.doc_id for s in view.sentences(found.tolist()).values()} == {"a"}
    store.close()


def test_segments_written_before_the_look_up_files_get_them_from_the_next_writer_and_keep_their_removals(tmp_path):
    release = Path(__file__).resolve().parents[2] / "fixtures" / "release-9c005f4"
    shutil.copytree(release, tmp_path / "release")
    settings = Settings(root=tmp_path / "release", store=None)
    store = LocalStore(settings)
    store.refresh()
    view = store.view()
    assert [has_lookups(part.segment) for part in view.parts] == [False, False]
    before = sorted(view.locations)  # seg-00000002 holds a removed row: an older version of a document
    assert view.manifest is not None and view.manifest.removed == {"seg-00000002": (0,)}
    with store.writer():
        store.commit(Change((), frozenset({"b"}), view.fingerprint, view.corpus_state or ""))
    fresh = LocalStore(settings)
    fresh.refresh()
    manifest = fresh.view().manifest
    assert manifest is not None and all(has_lookups(part.segment) for part in fresh.view().parts)
    assert manifest.segments == ("seg-00000004-l1", "seg-00000004-l2")
    assert manifest.removed == {"seg-00000004-l1": (1,), "seg-00000004-l2": (0,)}
    assert sorted(fresh.view().locations) == [doc_id for doc_id in before if doc_id != "b"]
    assert fresh.view().documents(["a"])["a"].text == view.documents(["a"])["a"].text


def test_a_chunk_search_probes_its_share_of_the_lists_and_a_sentence_search_ivf_probe(tiny, monkeypatch):
    from rag import VectorIndexSettings
    from rag.store import local_view

    settings, encoder = tiny
    settings = replace(settings, vectors=VectorIndexSettings(exact_max=1, ivf_lists_per_sqrt=2.0, ivf_probe=1, chunk_probe_share=0.5))
    Assistant.load(settings, encoder=encoder)
    store = LocalStore(settings)
    store.refresh()
    view = store.view()
    ((part,),) = [view.parts]
    lists = part.segment.ann_lists
    assert lists["chunk"] >= 2 and lists["sentence"] >= 2  # IVF indexes of more than one list
    probed = []
    search_ivf = local_view.search_ivf
    monkeypatch.setattr(local_view, "search_ivf", lambda *args, **kwargs: probed.append(args[5]) or search_ivf(*args, **kwargs))
    vector = encoder.encode_questions(["台積電是全球最大的晶圓代工廠"]).base
    view.search_chunks(vector, 3)
    view.search_sentences(vector, 3)
    assert probed == [-(-lists["chunk"] // 2), 1]
    assert view.details()["chunk vectors"] == f"ivf-sq8 (nprobe {-(-lists['chunk'] // 2)})" and view.details()["sentence vectors"] == "ivf-sq8 (nprobe 1)"
    store.close()

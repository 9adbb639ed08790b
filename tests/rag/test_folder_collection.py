"""A corpus folder's collection on the local store, with the fake encoder: add, update, remove,
refused files, the journal and crash recovery, the folder's scan (bad, deleted or unlisted files, a
lost manifest), PDF and Word articles. No model needed."""

from __future__ import annotations

import json
import re
import threading

import pytest
from conftest import ARTICLES
from index_state import index_generation, open_assistant

from rag import AddResult, Assistant, CancelledError, DocumentError, StorageError, UnknownDocumentError
from rag.store.local import CURRENT


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
    assert sorted(settings.corpus_dir.iterdir()) == before and index_generation(settings) == 2  # nothing written
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
    monkeypatch.setattr("rag.folder_collection.FolderCollection._finish_journal", lambda self, **_: False)
    article = settings.root / "c.txt"
    article.write_text("一篇新的文章。内容在这里。", encoding="utf-8")
    (added,) = assistant.add([article])
    monkeypatch.undo()
    return added


def test_a_crash_after_the_commit_is_completed_by_the_next_writer(tiny, monkeypatch, messages):
    settings, encoder = tiny
    added = _add_dying_right_after_the_commit(settings, encoder, monkeypatch)
    assert not (settings.corpus_dir / added.document.file).exists() and (settings.index_dir / "PENDING.json").exists()
    torn = settings.corpus_dir / ".manifest.json.x9.tmp"  # the dead writer's half-written file
    torn.write_bytes(b"half")
    reopened = open_assistant(settings, encoder)
    assert "Completed an interrupted change" in messages.take()
    assert (settings.corpus_dir / added.document.file).exists() and reopened.info().documents == 3
    assert not torn.exists()
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


def test_bad_files_in_the_folder_are_skipped_with_a_warning(tiny, messages):
    settings, encoder = tiny
    (settings.corpus_dir / "gbk.txt").write_bytes("国家的新闻报道内容".encode("gbk"))
    (settings.corpus_dir / "copy-of-a.txt").write_text(ARTICLES["a.txt"], encoding="utf-8")
    assistant = open_assistant(settings, encoder)
    err = messages.take()
    assert "gbk.txt skipped: not valid UTF-8" in err and "copy-of-a.txt skipped: the same article as a" in err
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


def test_an_earlier_versions_temporary_file_is_removed_by_the_next_open(tiny):
    """Opening does not scan the corpus folder for temporary files when nothing changed (this
    version writes none there); a stray one changes the folder, so the next open looks and removes it.
    It is no article: nothing new is indexed."""
    settings, encoder = tiny
    open_assistant(settings, encoder)
    stray = settings.corpus_dir / ".manifest.json.x4.tmp"
    stray.write_bytes(b"half-written")
    assert open_assistant(settings, encoder).info().documents == 2
    assert not stray.exists()


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

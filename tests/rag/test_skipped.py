"""Files a collection skips while it reads its folder: logged, and handed to the caller whose work
skipped them (``rag.skipped``), never to another thread's. The fake encoder; no model needed."""

from __future__ import annotations

import threading

from conftest import ARTICLES
from index_state import open_assistant

from rag import Skipped, skipped_files


def test_a_build_and_a_write_hand_the_files_they_skipped_to_their_caller_and_log_them(tiny, messages):
    settings, encoder = tiny
    (settings.corpus_dir / "gbk.txt").write_bytes("国家的新闻报道内容".encode("gbk"))
    (settings.corpus_dir / "copy-of-a.txt").write_text(ARTICLES["a.txt"], encoding="utf-8")
    with skipped_files() as skipped:
        assistant = open_assistant(settings, encoder)
    assert skipped == [Skipped("copy-of-a.txt", "the same article as a (delete it, or `rag remove a` first)"),
                       Skipped("gbk.txt", "not valid UTF-8 (byte 0); save it as UTF-8")]  # fmt: skip
    logged = messages.take()
    assert "gbk.txt skipped: not valid UTF-8 (byte 0); save it as UTF-8" in logged and "copy-of-a.txt skipped: the same article as a" in logged
    with skipped_files() as skipped:
        assistant.documents()  # reads no file
    assert skipped == []
    (settings.corpus_dir / "empty.md").write_text("#", encoding="utf-8")  # dropped in by hand: the next write reads the folder
    article = settings.root / "c.txt"
    article.write_text("一篇新的文章。内容在这里。", encoding="utf-8")
    with skipped_files() as skipped:
        (added,) = assistant.add([article])
    assert added.status == "added" and [s.file for s in skipped] == ["copy-of-a.txt", "empty.md", "gbk.txt"]
    assert skipped[1].reason.startswith("no article text left after cleaning")


def test_a_file_skipped_in_another_thread_is_not_this_callers(tiny):
    settings, encoder = tiny
    (settings.corpus_dir / "gbk.txt").write_bytes("国家的新闻报道内容".encode("gbk"))
    theirs: list[Skipped] = []

    def open_elsewhere() -> None:
        with skipped_files() as skipped:
            open_assistant(settings, encoder)
        theirs.extend(skipped)

    with skipped_files() as mine:
        other = threading.Thread(target=open_elsewhere)
        other.start()
        other.join()
    assert mine == [] and [s.file for s in theirs] == ["gbk.txt"]

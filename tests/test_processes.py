"""Several processes on one collection: one writer at a time, nothing acknowledged is lost, readers
never see a generation vanish, and a process killed mid-write leaves the old state or the new one,
as the point where it died decides."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
from pathlib import Path

import forked
import pytest

from rag import Assistant

# `make test-fast` runs on two processes: the tests forking from the warm process (forked.py) share one
pytestmark = pytest.mark.xdist_group("forked")

SCRIPT = Path(__file__).resolve().parent / "fake_process.py"


def start(root: Path, *args: str) -> forked.Forked:
    """``python fake_process.py ROOT ARG…``, forked from a process that has the library loaded (``forked.py``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SCRIPT.parent), *sys.path])}
    return forked.popen(SCRIPT, [str(root), *args], env=env)


def finish(process: forked.Forked, timeout: float = 120) -> object:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def articles(folder: Path, count: int, tag: str) -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    for number in range(count):
        path = folder / f"{tag}-{number}.txt"
        path.write_text(f"{tag}新闻第{number}篇。\n{tag}公司第{number}季度营收{number * 7 + 3}亿元,同比增长{number + 1}%。", encoding="utf-8")
        paths.append(path)
    return paths


def listed(settings) -> set[str]:
    return {entry["id"] for entry in json.loads((settings.corpus_dir / "manifest.json").read_text())["documents"]}


def test_concurrent_adds_from_processes_lose_nothing(tiny):
    settings, encoder = tiny
    Assistant.load(settings, encoder=encoder)
    first, second = articles(settings.root / "in1", 3, "甲"), articles(settings.root / "in2", 3, "乙")
    writers = [start(settings.root, "add", *map(str, first)), start(settings.root, "add", *map(str, second))]
    added = [doc_id for process in writers for doc_id in finish(process)]  # type: ignore[union-attr]
    assert len(set(added)) == 6
    reopened = Assistant.load(settings, encoder=encoder)
    assert {d.id for d in reopened.documents()} == {"a", "b", *added} == listed(settings)


def test_readers_load_while_writers_commit_without_false_corruption(tiny):
    settings, encoder = tiny
    Assistant.load(settings, encoder=encoder)
    readers = [start(settings.root, "load") for _ in range(2)]  # they load and ask until their stdin closes
    assert all(reader.stdout is not None and reader.stdout.readline().strip() == "loading" for reader in readers)
    for batch in range(3):
        finish(start(settings.root, "add", *map(str, articles(settings.root / f"w{batch}", 2, f"批{batch}"))))
    for reader in readers:
        loads = finish(reader)  # closes its stdin
        assert isinstance(loads, int) and loads >= 2, loads  # it was loading while the writers committed


def test_a_running_assistant_sees_what_another_process_added_and_never_undoes_it(tiny):
    settings, encoder = tiny
    serving = Assistant.load(settings, encoder=encoder)
    (added,) = finish(start(settings.root, "add", *map(str, articles(settings.root / "in", 1, "丙"))))  # type: ignore[misc]
    assert added in {d.id for d in serving.documents()}
    assert serving.ask("丙公司第0季度营收多少?", top_k=1).passages[0].doc_id == added
    article = settings.root / "mine.txt"
    article.write_text("丁公司发布了新产品。产品名叫星辰。", encoding="utf-8")
    serving.add([article])  # writing from the older process keeps the other's article
    assert added in listed(settings) and added in {d.id for d in Assistant.load(settings, encoder=encoder).documents()}


# Where a writer dies decides what the next process finds: before the index commits, the old state;
# once it has committed, the new state, which the next writer completes from the journal.
@pytest.mark.parametrize("point, committed", [("embedding", False), ("publishing", True)])
def test_a_writer_killed_at_a_known_point_leaves_the_state_that_point_decides(tiny, point, committed):
    settings, encoder = tiny
    Assistant.load(settings, encoder=encoder)
    article = settings.root / "new.txt"
    article.write_text("某公司今天宣布了新的计划。计划投入三亿元。", encoding="utf-8")
    new_id = f"000_{hashlib.sha256(article.read_bytes()).hexdigest()[:16]}"  # numbered after "a" and "b", which have none
    writer = start(settings.root, "add-blocked-at", point, str(article))
    assert writer.stdout is not None and writer.stdout.readline().strip() == "blocked", writer.communicate()[1][-3000:]
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    reopened = Assistant.load(settings, encoder=encoder)
    expected = {"a", "b", new_id} if committed else {"a", "b"}
    assert {d.id for d in reopened.documents()} == expected == listed(settings)
    files = {p.name for p in settings.corpus_dir.iterdir() if not p.name.startswith(".")}
    assert files == {"manifest.json", "a.txt", "b.txt", *([f"{new_id}.txt"] if committed else [])}
    assert not (settings.corpus_dir / ".staging").exists() and not (settings.index_dir / "PENDING.json").exists()
    other = settings.root / "after.txt"
    other.write_text("之后的一篇文章。内容完整。", encoding="utf-8")
    reopened.add([other])  # the next writer works, and leaves nothing behind
    assert not list(settings.index_dir.glob("segments/.staging-*")) and not list(settings.index_dir.glob(".*.tmp"))


@pytest.mark.parametrize("name", ["sentence_vectors.bin", "texts.jsonl"])
def test_a_file_truncated_under_a_running_assistant_is_repaired_not_a_crash(tiny, name):
    """The file is mapped by the serving process; a read past its new end would kill it (SIGBUS).
    The next question finds it changed, repairs the index (the segment's documents embedded again
    from the corpus folder) and answers."""
    settings, encoder = tiny
    Assistant.load(settings, encoder=encoder)
    serving = start(settings.root, "answer")
    assert serving.stdin is not None and serving.stdout is not None
    try:
        assert serving.stdout.readline().strip() == "ready"

        def ask(question: str) -> dict:
            serving.stdin.write(question + "\n")  # type: ignore[union-attr]
            serving.stdin.flush()  # type: ignore[union-attr]
            line = serving.stdout.readline()  # type: ignore[union-attr]
            assert line, f"the serving process died (exit {serving.wait(timeout=30)}; -7 is SIGBUS)"
            return json.loads(line)

        first = ask("穆拉蒂辞职了吗?")
        assert first["documents"][0] == "a" and first["embedded"] == 0
        (segment,) = (settings.index_dir / "segments").iterdir()
        path = segment / name
        with path.open("r+b") as handle:
            handle.truncate(0)  # every page past the end: a read there is SIGBUS
        again = ask("台积电要建多少座晶圆厂?")
        assert again.get("documents", [None])[0] == "b" and again["embedded"] > 0, again  # repaired: a and b embedded again
        assert ask("穆拉蒂辞职了吗?")["documents"][0] == "a"
    finally:
        out, err = serving.communicate(timeout=60)
    assert serving.returncode == 0, f"{serving.returncode}: {err[-3000:]}"
    assert f"{name} changed while in use" in err and "repairing" in err

"""Several processes on one collection: one writer at a time, nothing acknowledged is lost, readers
never see a generation vanish, and a process killed mid-write leaves the old state or the new one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import Assistant

SCRIPT = Path(__file__).resolve().parents[1] / "fake_process.py"


def start(root: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SCRIPT.parent), *sys.path])}
    return subprocess.Popen([sys.executable, str(SCRIPT), str(root), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip


def finish(process: subprocess.Popen[str], timeout: float = 120) -> object:
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
    readers = [start(settings.root, "load", "40") for _ in range(2)]
    for batch in range(4):
        finish(start(settings.root, "add", *map(str, articles(settings.root / f"w{batch}", 2, f"批{batch}"))))
    for reader in readers:
        assert finish(reader) == "ok"


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


@pytest.mark.parametrize("delay", [0.2, 0.6, 1.2])
def test_a_writer_killed_midway_leaves_the_old_state_or_the_new(tiny, delay):
    settings, encoder = tiny
    Assistant.load(settings, encoder=encoder)
    big = settings.root / "big.txt"
    big.write_text("\n".join(f"第{i}段。某公司今天宣布第{i}项计划,投入{i}亿元。" for i in range(300)), encoding="utf-8")
    writer = start(settings.root, "slow-add", "0.3", str(big))
    time.sleep(1.0 + delay)  # the model and the corpus are read by then; embedding is under way or done
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    reopened = Assistant.load(settings, encoder=encoder)
    ids = {d.id for d in reopened.documents()}
    assert ids in ({"a", "b"}, {"a", "b", next(iter(ids - {"a", "b"}), "")}) and ids == listed(settings)
    files = {p.name for p in settings.corpus_dir.iterdir() if not p.name.startswith(".")}
    assert files == {"manifest.json", *(reopened.document(i).file for i in ids)}
    article = settings.root / "after.txt"
    article.write_text("之后的一篇文章。内容完整。", encoding="utf-8")
    reopened.add([article])  # the next writer cleans what the killed one left
    assert not list(settings.index_dir.glob("segments/.staging-*")) and not list(settings.index_dir.glob(".*.tmp"))
    assert not (settings.corpus_dir / ".staging").exists() and not (settings.index_dir / "PENDING.json").exists()


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

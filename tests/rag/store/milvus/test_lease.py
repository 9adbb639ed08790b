"""The writer lease on a real Milvus 2.3 server: writers on two hosts (two processes that share no
file lock: different ``RAG_HOME``) change one collection at once, and nothing is lost."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import ChunkSettings, Settings
from rag.store import open_store

pytestmark = [pytest.mark.milvus, pytest.mark.milvus_server]
SCRIPT = Path(__file__).resolve().parents[3] / "store_writer.py"
CHANGES = 60  # per writer, each adding an article and (but the first two) removing one: 236 adds and removes


def _writer(root: Path, uri: str, collection: str, name: str, operations: str, lease_s: float, seed: int = 0) -> subprocess.Popen[str]:
    root.mkdir(parents=True, exist_ok=True)
    given = json.dumps({"root": str(root), "store": uri, "collection": collection, "lease_s": lease_s})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SCRIPT.parent), *sys.path])}
    return subprocess.Popen([sys.executable, str(SCRIPT), given, name, operations, str(seed)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip


def _documents(uri: str, collection: str, root: Path, generation: int) -> set[str]:
    """The documents of ``generation`` as a reader on a third host sees them. Its reads are Session-consistent,
    so the last commit reaches it a moment later (one CI run read the generation before it): it waits for it."""
    store = open_store(Settings(root=root, store=uri, collection=collection, chunk=ChunkSettings(size=40, overlap=10)))
    try:
        deadline = time.monotonic() + 15
        store.refresh()
        while store.view().generation < generation and time.monotonic() < deadline:
            time.sleep(0.2)
            store.refresh()
        assert store.view().generation == generation
        return {doc.id for doc in store.view().stored_documents()}
    finally:
        store.close()


def test_two_hosts_adding_and_removing_at_once_lose_nothing(milvus_uri, tmp_path):
    collection = f"writers-{os.getpid()}"
    started = time.monotonic()
    writers = {name: _writer(tmp_path / name, milvus_uri, collection, name, str(CHANGES), lease_s=30, seed=seed)
               for seed, name in enumerate(("east", "west"))}  # fmt: skip
    outputs = {name: process.communicate(timeout=600) for name, process in writers.items()}
    seconds = time.monotonic() - started
    assert all(process.returncode == 0 for process in writers.values()), {n: o[1][-2000:] for n, o in outputs.items()}
    changes = {name: [json.loads(line) for line in out.splitlines()] for name, (out, _) in outputs.items()}
    published = sorted((c["published"], name, c["add"], c["remove"]) for name, done in changes.items() for c in done if "published" in c)
    refused = [c for done in changes.values() for c in done if "refused" in c]
    # every change was published or refused with a message saying so
    assert all(c["refused"] in ("IndexBusyError", "ConcurrentWriteError") and "writer" in c["message"] for c in refused), [
        (c["refused"], c["message"]) for c in refused
    ]
    # no commit overwrote another: each published a generation of its own, one after another
    generations = [generation for generation, *_ in published]
    assert generations == list(range(1, len(published) + 1))
    # the collection holds exactly what was added and not removed, by either host
    expected: set[str] = set()
    for _, _, added, removed in published:
        expected = (expected | {added}) - {removed}
    assert _documents(milvus_uri, collection, tmp_path / "reader", len(published)) == expected
    # the two hosts' changes interleaved, and there were enough of them
    owners = [name for _, name, *_ in published]
    switches = sum(a != b for a, b in itertools.pairwise(owners))
    operations = len(published) + sum(removed is not None for *_, removed in published)
    waits = sorted(c["ended"] - c["started"] for done in changes.values() for c in done)
    print(f"\n{len(published)} changes published ({operations} adds and removes), {len(refused)} refused, {switches} switches between "
          f"hosts, in {seconds:.0f} s; a change took {waits[len(waits) // 2]:.2f} s p50, {waits[-1]:.2f} s at most")
    assert operations >= 200 and switches >= 20


def test_a_writer_killed_holding_the_lease_gives_it_up_after_it_expires(milvus_uri, tmp_path):
    collection = f"killed-{os.getpid()}"
    holder = _writer(tmp_path / "holder", milvus_uri, collection, "holder", "hold", lease_s=3)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    holder.kill()
    holder.wait()
    started = time.monotonic()
    writer = _writer(tmp_path / "next", milvus_uri, collection, "next", "1", lease_s=3)
    out, err = writer.communicate(timeout=120)
    (change,) = [json.loads(line) for line in out.splitlines()]
    assert change["published"] == 1, err[-2000:]
    assert time.monotonic() - started < 30  # the dead claim expired after 4 s by the server's clock

"""Another process on a collection of the store contract tests (``tests/rag/store/test_contract.py``),
with the fake encoder: ``python store_process.py SETTINGS ACTION ARG…`` where SETTINGS is the JSON of
``{"root", "store", "collection"}`` and ACTION is

- ``state QUESTION``: print the documents' ids, the passages answering QUESTION and how many
  pieces it embedded (none when it found the index whole);
- ``add FILE DIE``: add FILE, killing this process with SIGKILL just ``before`` or ``after`` the
  store's commit point (``never``: a normal add);
- ``hold``: open the collection, print "ready", wait until stdin closes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from fakes import FakeEncoder

from rag import Assistant, ChunkSettings, Settings


def settings_of(text: str) -> Settings:
    given = json.loads(text)
    return Settings(root=Path(given["root"]), cache_dir=Path(given["root"]) / "cache", store=given["store"],
                    collection=given["collection"], chunk=ChunkSettings(size=40, overlap=10))  # fmt: skip


def die_at_commit_point(store: str | None, when: str) -> None:
    """SIGKILL right before or after the store's commit point: no cleanup of ours runs."""

    def kill() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    if store is None:
        from rag.store import local

        original = local.write_atomic

        def write(path: Path, data: bytes) -> None:
            if path.name == local.CURRENT and when == "before":
                kill()
            original(path, data)
            if path.name == local.CURRENT:
                kill()

        local.write_atomic = write  # type: ignore[assignment]
    else:
        from rag.store.milvus import MilvusStore

        publish = MilvusStore._publish

        def published(self: MilvusStore, state: object) -> None:
            if when == "before":
                kill()
            publish(self, state)  # type: ignore[arg-type]
            kill()

        MilvusStore._publish = published  # type: ignore[method-assign]


def main(settings_json: str, action: str, *args: str) -> None:
    settings = settings_of(settings_json)
    encoder = FakeEncoder()
    assistant = Assistant.load(settings, encoder=encoder)
    if action == "state":
        passages = [(p.doc_id, p.start, p.end) for p in assistant.ask(args[0], top_k=3).passages]
        print(json.dumps({"documents": sorted(d.id for d in assistant.documents()), "passages": passages, "embedded": encoder.passages}))
    elif action == "add":
        if args[1] != "never":
            die_at_commit_point(settings.store, args[1])
        print(json.dumps([r.document.id for r in assistant.add([Path(args[0])])]))
    elif action == "hold":
        print("ready", flush=True)
        sys.stdin.read()
    assistant.close()


if __name__ == "__main__":
    main(*sys.argv[1:])

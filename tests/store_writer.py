"""A writer on another host, for ``tests/rag/store/milvus/test_lease.py``: ``python store_writer.py
SETTINGS NAME CHANGES SEED`` where SETTINGS is the JSON of ``{"root", "store", "collection",
"lease_s"}``. It makes CHANGES changes of the collection through the store alone, each under
``writer()``: each adds an article of its own (``NAME-<n>``) and, from the third on, removes one of
its own at random. It prints one JSON line per change: what it added and removed, and whether it was
published (as which generation) or refused (the error's type and message). With ``hold`` as CHANGES
it takes the writer lease, prints "holding" and waits to be killed.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from fakes import FakeEncoder

from rag import ChunkSettings, Settings
from rag.corpus import Document
from rag.errors import RagError
from rag.ingest import fingerprint, index_documents
from rag.store import open_store
from rag.store.base import Change


def settings_of(text: str) -> Settings:
    given = json.loads(text)
    return Settings(root=Path(given["root"]), cache_dir=Path(given["root"]) / "cache", store=given["store"], collection=given["collection"],
                    chunk=ChunkSettings(size=40, overlap=10), writer_lease_s=given["lease_s"], lock_timeout_s=60)  # fmt: skip


def article(doc_id: str) -> Document:
    text = f"{doc_id}号文章:测试公司今天宣布第{len(doc_id)}季度的营收。分析师认为{doc_id}的前景良好。"
    return Document(id=doc_id, file=f"{doc_id}.txt", title=doc_id, script="zh-Hans", sha256=doc_id, text=text)


def main(settings_json: str, name: str, changes: str, seed: str) -> None:
    settings, encoder = settings_of(settings_json), FakeEncoder()
    store, stamp = open_store(settings), fingerprint(settings, encoder)
    if changes == "hold":
        with store.writer():
            print("holding", flush=True)
            time.sleep(3600)
    rng, mine = random.Random(int(seed)), []
    for number in range(int(changes)):
        # each change adds an article and, from the third on, removes one of the writer's own
        added, removed = f"{name}-{number}", mine.pop(rng.randrange(len(mine))) if len(mine) >= 2 else None
        change = Change(index_documents([article(added)], encoder, settings), frozenset({removed} if removed else ()), stamp, "")
        started = time.time()
        try:
            with store.writer():
                store.refresh()
                store.commit(change)
                generation = store.view().generation
            mine.append(added)
            result = {"published": generation}
        except RagError as error:
            mine += [removed] if removed else []
            result = {"refused": type(error).__name__, "message": str(error)}
        print(json.dumps({"add": added, "remove": removed, "started": started, "ended": time.time(), **result}), flush=True)
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:])

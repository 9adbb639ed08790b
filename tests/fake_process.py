"""A separate process using the library with the fake encoder, for tests of what several processes
do to one collection at once: ``python fake_process.py ROOT add FILE…`` / ``remove ID…`` / ``load N`` /
``slow-add DELAY FILE`` (embedding pauses DELAY seconds per batch, so a test can kill it midway) /
``serve PORT DELAY`` (the page and the API on 127.0.0.1:PORT, embedding DELAY seconds per batch) /
``answer`` (print "ready", then answer each question read from stdin with one line of JSON: the
passages' document ids, or the error)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from fakes import FakeEncoder

from rag import Assistant, ChunkSettings, RagError, Settings


class SlowEncoder(FakeEncoder):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def encode_passages(self, texts, progress=False):
        time.sleep(self.delay)
        return super().encode_passages(texts, progress)


def main(root: str, action: str, *args: str) -> None:
    settings = Settings(root=Path(root), cache_dir=Path(root) / "cache", store=None, chunk=ChunkSettings(size=40, overlap=10))
    encoder = SlowEncoder(float(args[0 if action == "slow-add" else 1])) if action in ("slow-add", "serve") else FakeEncoder()
    assistant = Assistant.load(settings, encoder=encoder)
    if action in ("add", "slow-add"):
        files = args[1:] if action == "slow-add" else args
        results = assistant.add([Path(f) for f in files])
        print(json.dumps([r.document.id for r in results]))
    elif action == "remove":
        print(json.dumps([d.id for d in assistant.remove(list(args))]))
    elif action == "serve":
        from rag_ui.server import serve

        serve(assistant, port=int(args[0]))
    elif action == "answer":
        print("ready", flush=True)
        for question in sys.stdin:
            try:
                answer = {"documents": [p.doc_id for p in assistant.ask(question.strip(), top_k=3).passages]}
            except RagError as error:
                answer = {"error": f"{type(error).__name__}: {error}"}
            print(json.dumps(answer | {"embedded": encoder.passages}, ensure_ascii=False), flush=True)
    elif action == "load":  # open and ask repeatedly while others write
        for _ in range(int(args[0])):
            Assistant.load(settings, encoder=encoder).ask("穆拉蒂辞职了吗?")
        print(json.dumps("ok"))


if __name__ == "__main__":
    main(*sys.argv[1:])

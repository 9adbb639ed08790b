"""A separate process using the library with the fake encoder, for tests of what several processes
do to one collection at once: ``python fake_process.py ROOT add FILE…`` / ``remove ID…`` / ``load`` (until stdin closes) /
``add-blocked-at POINT FILE`` (an add that stops for good at POINT, ``embedding`` or ``publishing``,
after printing "blocked": the test kills it there) / ``serve PORT DELAY`` (the page and the API on
127.0.0.1:PORT, embedding DELAY seconds per batch; with PORT ``-`` the library and Gradio load first,
then the port is read from stdin and the collection opened: a test starts it ahead of time) /
``answer`` (print "ready", then answer each question read from stdin with one line of JSON: the
passages' document ids, or the error)."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from fakes import FakeEncoder

from rag import Assistant, ChunkSettings, RagError, Settings
from rag.corpus import CorpusFolder


class SlowEncoder(FakeEncoder):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def encode_passages(self, texts, progress=False):
        time.sleep(self.delay)
        return super().encode_passages(texts, progress)


def block(*_: object, **__: object) -> None:
    print("blocked", flush=True)
    time.sleep(3600)


class BlockingEncoder(FakeEncoder):
    """Blocks in the first batch it embeds once ``armed``: opening the collection never gets there."""

    armed = False

    def encode_passages(self, texts, progress=False):
        if self.armed:
            block()
        return super().encode_passages(texts, progress)


def main(root: str, action: str, *args: str) -> None:
    if action == "serve" and args[0] == "-":
        import rag_ui.server  # noqa: F401
        from rag.expand import cedict_glosses
        from rag.lexical import warm_up

        warm_up()  # what Assistant.load warms first
        cedict_glosses()
        port = sys.stdin.readline().strip()
        if not port:  # the test ended first
            return
        args = (port, *args[1:])
    settings = Settings(root=Path(root), cache_dir=Path(root) / "cache", store=None, chunk=ChunkSettings(size=40, overlap=10))
    encoder = SlowEncoder(float(args[1])) if action == "serve" else BlockingEncoder() if action == "add-blocked-at" else FakeEncoder()
    assistant = Assistant.load(settings, encoder=encoder)
    if action == "add":
        print(json.dumps([r.document.id for r in assistant.add([Path(f) for f in args])]))
    elif action == "add-blocked-at":
        point, file = args
        if point == "embedding":  # nothing is committed yet
            encoder.armed = True  # type: ignore[attr-defined]
        elif point == "publishing":  # the index committed; the corpus folder is not published yet
            CorpusFolder.publish = block  # type: ignore[method-assign, assignment]
        print(json.dumps([r.document.id for r in assistant.add([Path(file)])]))
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
    elif action == "load":  # open and ask again and again while others write, until stdin closes
        stop = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
        print("loading", flush=True)
        loads = 0
        while not stop.is_set():
            Assistant.load(settings, encoder=encoder).ask("穆拉蒂辞职了吗?")
            loads += 1
            stop.wait(0.2)  # often enough to meet every commit, without taking a core from the writers
        print(json.dumps(loads))


if __name__ == "__main__":
    main(*sys.argv[1:])

"""One server, one port: the HTTP JSON API (``/api/v1``, OpenAPI docs at ``/docs``) and the chat page
(Gradio, mounted at ``/``) on one FastAPI app, run by uvicorn. ``FastAPIOffline`` serves the docs'
scripts itself: the stock Swagger UI fetches them from a CDN, and the page must work offline."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import gradio as gr
import uvicorn
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from rag import Assistant
from rag_ui import render
from rag_ui.admission import Admission
from rag_ui.api import HANDLERS, router
from rag_ui.assistants import Assistants
from rag_ui.guard import RequestGuard
from rag_ui.page import THEME, build
from rag_ui.uploads import UploadFolder


# Questions: as many at once as the machine has cores to encode and read with, and a line long enough
# for a newsroom's burst (20 clients at once in `make load`). Writes: two at a time (different
# collections may write together), four more in line; beyond, 503 at once (issue 23).
ASKS = {"running": 4, "waiting": 60, "retry_after_s": 2}
WRITES = {"running": 2, "waiting": 4, "retry_after_s": 10}
PAGE_QUEUE = 64  # the page's events waiting in Gradio's queue; beyond, the page says the server is busy


def create_app(assistant: Assistant) -> FastAPI:
    assistants = Assistants(assistant)
    uploads = UploadFolder()
    asks, writes = Admission("questions", **ASKS), Admission("writes", **WRITES)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        asks.close()
        writes.close()
        uploads.close()

    app = FastAPIOffline(title="新闻问答 · News QA API", version="1", description="Cited, extractive answers from Chinese news articles.",
                         lifespan=lifespan)  # fmt: skip
    for kind, handler in HANDLERS.items():
        app.add_exception_handler(kind, handler)
    app.include_router(router(assistants, uploads, asks, writes))
    with _gradio_folder(uploads.path):  # Gradio's components and its upload route take it when made
        page = build(assistants, uploads)
        page.queue(default_concurrency_limit=4, max_size=PAGE_QUEUE)
        gr.mount_gradio_app(app, page, path="/", theme=THEME, css=render.CSS, max_file_size=assistant.limits.max_document_bytes)
    uploads.trust_uploads_of(lambda path: path in page.upload_file_set)
    app.state.uploads = uploads
    # outermost: before FastAPI or Gradio reads a body
    app.add_middleware(RequestGuard, uploaded=uploads.holds, event=lambda index: index in page.fns)
    return app


@contextlib.contextmanager
def _gradio_folder(path: os.PathLike[str]) -> Iterator[None]:
    """Gradio's upload and cache folder (``GRADIO_TEMP_DIR``) while the page and its app are made."""
    before = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = os.fspath(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = before


@dataclass
class Running:
    """A server started in the background (tests, the load probe): ``url`` and ``close()``."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def uploads(self) -> UploadFolder:
        return self.server.config.app.state.uploads

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def _server(assistant: Assistant, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(create_app(assistant), host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)
    return uvicorn.Server(config)


def serve(assistant: Assistant, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve until interrupted."""
    print(f"Serving the page on http://{host}:{port}/ and the API on http://{host}:{port}/api/v1 (docs: /docs)", flush=True)
    _server(assistant, host, port).run()


def start(assistant: Assistant, host: str = "127.0.0.1", port: int | None = None, timeout_s: float = 60) -> Running:
    """Serve in a background thread; returns once the server answers (at most ``timeout_s``)."""
    if port is None:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    server = _server(assistant, host, port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError(f"the server did not start on {host}:{port}")
        time.sleep(0.05)
    return Running(f"http://{host}:{port}/", server, thread)

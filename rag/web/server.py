"""One server, one port: the HTTP JSON API (``/api/v1``, OpenAPI docs at ``/docs``) and the chat page
(Gradio, mounted at ``/``) on one FastAPI app, run by uvicorn. ``FastAPIOffline`` serves the docs'
scripts itself: the stock Swagger UI fetches them from a CDN, and the page must work offline."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import gradio as gr
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from rag import Assistant, RagError
from rag.web import render
from rag.web.api import error_response, router
from rag.web.assistants import Assistants
from rag.web.guard import RefuseRemoteFiles
from rag.web.page import THEME, build

MAX_REQUEST_BYTES = 64_000_000  # several articles of up to 5 MB each in one upload; more is refused


def create_app(assistant: Assistant) -> FastAPI:
    assistants = Assistants(assistant)
    app = FastAPIOffline(title="新闻问答 · News QA API", version="1", description="Cited, extractive answers from Chinese news articles.")

    @app.exception_handler(RagError)
    async def rag_error(request: Request, error: RagError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        return JSONResponse({"error": {"type": "InvalidRequest", "message": problems}}, status_code=400)

    @app.middleware("http")
    async def limit_size(request: Request, call_next):  # noqa: ANN001, ANN202 - Starlette's signature
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
            message = f"the request is {int(declared):,} bytes; the limit is {MAX_REQUEST_BYTES:,}"
            return JSONResponse({"error": {"type": "DocumentTooLargeError", "message": message}}, status_code=413)
        return await call_next(request)

    app.add_middleware(RefuseRemoteFiles)  # no fetching of URLs named in requests (rag.web.guard)
    app.include_router(router(assistants))
    page = build(assistants)
    page.queue(default_concurrency_limit=4)
    return gr.mount_gradio_app(app, page, path="/", theme=THEME, css=render.CSS, max_file_size=assistant.limits.max_document_bytes)


@dataclass
class Running:
    """A server started in the background (tests, the load probe): ``url`` and ``close()``."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

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

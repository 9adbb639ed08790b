"""The server's HTTP boundary, before FastAPI or Gradio reads a request: sizes, and file paths.

- **Sizes.** A request that declares more than ``MAX_REQUEST_BYTES`` is refused (413) before a byte
  of its body is read; one that sends more than it may without declaring it is cut off at the limit.
  JSON bodies are small: beyond ``MAX_JSON_BYTES`` they are refused too.
- **File paths.** Gradio accepts, wherever a component takes a file, a FileData naming any path on
  this machine or a URL, and reads or downloads it before the event's function runs (mounted as it is
  here, its own check is off: ``rag_ui.uploads``). So every JSON body sent to the page's routes is
  read here, and a request naming a file anywhere in it (``{"path": …}``, at any depth) is refused
  (400) unless the path is a file that this server's upload route wrote. ``/file=<URL>`` is refused
  (403): the server never fetches anything.
- **Events.** A body naming an event the page does not have (``fn_index``) is refused (400): Gradio
  looks it up unchecked and answers 500.

Every refusal is the API's JSON error, ``{"error": {"type", "message"}}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

URL = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://")  # any scheme: Gradio fetches http(s), refuse all
MAX_REQUEST_BYTES = 64_000_000  # several articles of up to 5 MB each in one upload; more is refused
MAX_JSON_BYTES = 16 * 1024 * 1024  # event and API bodies are small
API_PREFIX = "/api/v1"  # its routes take no file paths: bodies are left to FastAPI's validation


def named_files(value: Any) -> list[str]:
    """The file paths a JSON value names: the ``path`` of every object, at any depth (Gradio reads a
    ``{"path": …}`` as a file whether or not it carries FileData's ``meta``)."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            path = item.get("path")
            if isinstance(path, str):
                found.append(path)
            elif path is not None:
                found.append(repr(path))  # not a string: never an upload
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def error_body(kind: str, message: str) -> bytes:
    return json.dumps({"error": {"type": kind, "message": message}}, ensure_ascii=False).encode()


class RequestTooLargeError(Exception):
    """More body bytes arrived than the request may send."""


class RequestGuard:
    """ASGI middleware: see the module's docstring. ``uploaded(path)`` says whether a path is a file
    this server's upload route wrote (``UploadFolder.holds``); ``event(index)`` whether the page has an
    event of that index."""

    def __init__(self, app: Any, uploaded: Callable[[str], bool], event: Callable[[int], bool]) -> None:
        self.app = app
        self.uploaded = uploaded
        self.event = event

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = unquote(scope.get("path", ""))
        if "/file=" in path and URL.match(path.split("/file=", 1)[1]):
            return await _refuse(send, 403, "RemoteFileRefused", "files are served from this machine only; nothing is fetched")
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length", b"")
        if declared.strip().isdigit() and int(declared) > MAX_REQUEST_BYTES:
            return await _refuse(send, 413, "RequestTooLarge", f"the request is {int(declared):,} bytes; the limit is {MAX_REQUEST_BYTES:,}")
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/")
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE") or multipart:
            return await self._counted(scope, receive, send)
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_JSON_BYTES:
                return await _refuse(send, 413, "RequestTooLarge", f"a JSON body may hold at most {MAX_JSON_BYTES:,} bytes")
        if not path.startswith(API_PREFIX):
            refusal = self._page_refusal(body)
            if refusal is not None:
                return await _refuse(send, 400, *refusal)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: wait for the disconnect as usual
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    def _page_refusal(self, body: bytes) -> tuple[str, str] | None:
        """(type, message) of why a page request's body is refused, or None."""
        try:
            value = json.loads(body) if body else None
        except ValueError:
            return None  # not JSON: Gradio refuses it itself, and reads no file from it
        except RecursionError:
            return "InvalidRequest", "the request is nested too deeply to be checked; the page never sends that"
        for named in named_files(value):
            if URL.match(named):
                return "FileRefused", "only uploaded files are accepted, not URLs"
            if not self.uploaded(named):
                return "FileRefused", "only files uploaded to this server are accepted, not paths on it"
        index = value.get("fn_index") if isinstance(value, dict) else None
        if isinstance(index, int) and not isinstance(index, bool) and not self.event(index):
            return "UnknownEvent", f"the page has no event {index}"
        return None

    async def _counted(self, scope: dict, receive: Any, send: Any) -> None:
        """Pass the request on, cutting it off with 413 if its body grows past the limit."""
        received = 0
        started = False

        async def counting_receive() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_REQUEST_BYTES:
                raise RequestTooLargeError
            return message

        async def watching_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except RequestTooLargeError:
            if not started:
                await _refuse(send, 413, "RequestTooLarge", f"the request is larger than the limit of {MAX_REQUEST_BYTES:,} bytes")


async def _refuse(send: Any, status: int, kind: str, message: str) -> None:
    payload = error_body(kind, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})

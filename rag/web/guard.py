"""Refuse requests that would make the server fetch a URL.

Gradio accepts, wherever a component takes a file, a FileData whose ``path`` is an ``http(s)://``
URL, and downloads it (through safehttpx, which also asks dns.google over HTTPS when the name does
not resolve to a public address) before the event's function runs, so no check in a handler can
stop it; ``GET /gradio_api/file=<URL>`` fetches too. The page itself only ever sends files it
uploaded (their paths are on this machine), so a request naming a URL is refused here, at the HTTP
boundary, before Gradio reads it.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

URL = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://")  # any scheme: Gradio fetches http(s), refuse all
MAX_BODY = 16 * 1024 * 1024  # JSON event bodies are small; uploads (multipart) are not read here


def names_url(value: Any) -> bool:
    """Whether a JSON value holds a file object whose path is a URL."""
    if isinstance(value, dict):
        path = value.get("path")
        if isinstance(path, str) and URL.match(path):
            return True
        return any(names_url(item) for item in value.values())
    if isinstance(value, list):
        return any(names_url(item) for item in value)
    return False


class RefuseRemoteFiles:
    """ASGI middleware: 403 for ``/file=<URL>``, 400 for a JSON body with a file path that is a URL."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = unquote(scope.get("path", ""))
        if "/file=" in path and URL.match(path.split("/file=", 1)[1]):
            return await _refuse(send, 403, "files are served from this machine only")
        headers = dict(scope.get("headers", []))
        if scope["method"] != "POST" or headers.get(b"content-type", b"").startswith(b"multipart/"):
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                return await _refuse(send, 413, "request too large")
        try:
            refused = names_url(json.loads(body)) if body else False
        except ValueError:  # not JSON: Gradio rejects it itself
            refused = False
        except RecursionError:  # nested too deep to check: no page sends that
            refused = True
        if refused:
            return await _refuse(send, 400, "only uploaded files are accepted, not URLs")
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: wait for the disconnect as usual
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


async def _refuse(send: Any, status: int, reason: str) -> None:
    payload = json.dumps({"error": reason}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})

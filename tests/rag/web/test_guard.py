"""rag.web.guard refuses requests naming a URL where a file is expected, and passes everything else on intact."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from rag.web.guard import RefuseRemoteFiles, names_url

META = {"_type": "gradio.FileData"}


def test_names_url_finds_file_paths_that_are_urls_anywhere():
    assert names_url({"data": [[{"path": "http://evil.example/x.txt", "meta": META}]]})
    assert names_url({"data": [None, {"value": {"path": "HTTPS://evil.example/x", "meta": META}}]})
    assert names_url([{"path": " ftp://evil.example/x"}])
    # what the page sends after an upload: a local path, and a url back to this server, never fetched
    local = {"path": "/tmp/gradio/abc/a.txt", "url": "http://127.0.0.1:7860/gradio_api/file=/tmp/gradio/abc/a.txt", "meta": META}
    assert not names_url({"data": [[local]], "session_hash": "x"})
    assert not names_url({"data": ["Is http://evil.example mentioned?", 5]})  # a question is text, not a file


async def echo(scope, receive, send):
    message = await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]})
    await send({"type": "http.response.body", "body": message.get("body", b"")})


def test_middleware_refuses_urls_and_replays_other_bodies():
    client = TestClient(RefuseRemoteFiles(echo))
    body = {"data": [[{"path": "/tmp/gradio/a.txt", "meta": META}]]}
    passed = client.post("/gradio_api/queue/join", content=json.dumps(body))
    assert passed.status_code == 200 and json.loads(passed.content) == body
    refused = client.post("/gradio_api/call/add_files", json={"data": [[{"path": "http://evil.example/x", "meta": META}]]})
    assert refused.status_code == 400 and "URL" in refused.text
    assert client.get("/gradio_api/file=http://evil.example/x").status_code == 403
    assert client.get("/gradio_api/file=http%3A//evil.example/x").status_code == 403
    assert client.get("/gradio_api/file=/tmp/gradio/a.txt").status_code == 200
    assert client.post("/gradio_api/upload", files={"files": ("a.txt", b'{"path": "http://x"}')}).status_code == 200  # not read
    assert client.post("/x", content=b"not json").status_code == 200  # left to Gradio
    assert client.post("/x", content=b"[" * 100_000).status_code == 400  # too deep to check

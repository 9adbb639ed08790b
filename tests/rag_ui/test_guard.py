"""rag_ui.guard: sizes checked before a body is read, file paths in the page's requests refused
unless uploaded here, URLs never fetched, everything else passed on intact."""

from __future__ import annotations

import asyncio
import json

from starlette.testclient import TestClient

from rag_ui.guard import MAX_JSON_BYTES, MAX_REQUEST_BYTES, RequestGuard, named_files

META = {"_type": "gradio.FileData"}
UPLOADED = "/srv/uploads/abc/a.txt"


def test_named_files_finds_every_path_at_any_depth():
    assert named_files({"data": [[{"path": "http://evil.example/x.txt", "meta": META}]]}) == ["http://evil.example/x.txt"]
    assert named_files({"data": [None, {"value": {"path": "/etc/passwd"}}]}) == ["/etc/passwd"]
    assert named_files([{"path": 5}]) == ["5"]  # not text: never an upload
    assert named_files({"data": ["Is /etc/passwd mentioned?", 5]}) == []  # a question is text, not a file
    deep: object = {"path": "/deep"}
    for _ in range(5000):
        deep = [deep]
    assert named_files(deep) == ["/deep"]  # no recursion limit to hide behind


async def echo(scope, receive, send):
    message = await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]})
    await send({"type": "http.response.body", "body": message.get("body", b"")})


def client() -> TestClient:
    return TestClient(RequestGuard(echo, uploaded=lambda path: path == UPLOADED, event=lambda index: index in (0, 1)))


def test_only_uploaded_paths_pass_and_bodies_are_replayed_intact():
    guarded = client()
    body = {"data": [[{"path": UPLOADED, "meta": META}], "news"]}
    passed = guarded.post("/gradio_api/queue/join", content=json.dumps(body))
    assert passed.status_code == 200 and json.loads(passed.content) == body
    for path in ("/etc/passwd", "/srv/uploads/abc/../../../etc/passwd", "http://evil.example/x"):
        refused = guarded.post("/gradio_api/queue/join", json={"data": [[{"path": path}]]})
        assert refused.status_code == 400 and refused.json()["error"]["type"] == "FileRefused", path
    assert "URL" in guarded.post("/gradio_api/call/add_files", json={"data": [{"path": " ftp://x/y", "meta": META}]}).json()["error"]["message"]
    assert guarded.post("/x", content=b"[" * 100_000).status_code == 400  # too deep to parse: refused, not passed on
    assert guarded.post("/gradio_api/queue/join", json={"fn_index": 7, "data": []}).json()["error"]["type"] == "UnknownEvent"
    assert guarded.post("/gradio_api/queue/join", json={"fn_index": 1, "data": []}).status_code == 200
    assert guarded.post("/x", content=b"not json").status_code == 200  # no file in it: left to Gradio
    # the API's routes take no paths: their bodies go to FastAPI's validation untouched
    assert guarded.post("/api/v1/ask", json={"question": "x", "path": "/etc/passwd"}).status_code == 200


def test_urls_in_file_routes_are_refused():
    guarded = client()
    assert guarded.get("/gradio_api/file=http://evil.example/x").status_code == 403
    assert guarded.get("/gradio_api/file=http%3A//evil.example/x").json()["error"]["type"] == "RemoteFileRefused"
    assert guarded.get(f"/gradio_api/file={UPLOADED}").status_code == 200  # Gradio's own route decides what it serves


def call(guard: RequestGuard, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict, int]:
    """(status, JSON body, body messages the app behind read) of one request whose body never comes."""
    sent: list[dict] = []
    asked = 0

    async def receive() -> dict:
        nonlocal asked
        asked += 1
        await asyncio.sleep(3600)  # a client that declared a huge body and sends it slowly
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(asyncio.wait_for(guard(scope, receive, send), timeout=5))
    return sent[0]["status"], json.loads(sent[1]["body"]), asked


def test_sizes_are_checked_from_the_headers_before_the_body_is_read():
    guard = RequestGuard(echo, uploaded=lambda path: False, event=lambda index: True)
    status, body, asked = call(guard, "POST", "/api/v1/ask", {"content-length": str(10**12), "content-type": "application/json"})
    assert (status, body["error"]["type"], asked) == (413, "RequestTooLarge", 0)
    multipart = {"content-length": str(MAX_REQUEST_BYTES + 1), "content-type": "multipart/form-data; boundary=x"}
    assert call(guard, "POST", "/api/v1/documents", multipart)[::2] == (413, 0)


def test_bodies_larger_than_declared_are_cut_off():
    guarded = client()
    assert guarded.post("/gradio_api/queue/join", content=b"[" + b" " * (MAX_JSON_BYTES + 1) + b"]").status_code == 413
    assert guarded.post("/api/v1/documents", files={"files": ("a.txt", b'{"path": "/etc/passwd"}')}).status_code == 200  # multipart: not parsed here

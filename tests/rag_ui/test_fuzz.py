"""Malformed requests, as careless clients and attackers send them, against a real server on 127.0.0.1
(issue 23): none gets a 5xx, every error under /api/v1 is JSON in the documented shape, and nothing on
disk changes (the project's files and the server's upload folder). The server answers from a small
project with the fake encoder, so this runs in the fast tier."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from rag import Assistant

# `make test-fast` runs on two processes: the tests that serve in this process (Gradio loads in seconds) share one
pytestmark = pytest.mark.xdist_group("web")

CHINESE_NAME = "中" * 100 + ".txt"  # 304 bytes: more than a file name may have (255)
BAD_FILE_NAMES = ["..", ".", "../../etc/passwd", "a\x00b.txt", CHINESE_NAME, "", "   ", "\x1b[31mred.txt", "a/b/..",
                  "CON.txt", "x.exe", "noext", "a" * 1000 + ".txt", "\u202etxt.exe"]  # fmt: skip
BAD_CONTENTS = [b"", b"   \n", b"\x00\x01\x02binary", "中文".encode("gbk"), b"%PDF-1.7\n1 0 obj", b"PK\x03\x04junk"]


def malformed() -> list[tuple[str, str, dict]]:
    """(method, path, httpx keyword arguments) of requests that must all be refused cleanly."""
    requests: list[tuple[str, str, dict]] = []
    for body in [b"", b"not json", b"{", b"\xff\xfe\x00", b"[]", b"null", b'"q"', b"[" * 50_000, b"{" * 3 + b"}" * 3,
                 b'{"question": "\\ud800"}', b'{"question": "' + b"9" * 5000 + b'"', '{"question": "估值?", "top_k": 1e999}'.encode(),
                 b'{"question": "x", "top_k": ' + b"9" * 5000 + b"}", b'{"question": "x", "top_k": NaN}', b'{"question": "x", "top_k": Infinity}']:  # fmt: skip
        requests.append(("POST", "/api/v1/ask", {"content": body, "headers": {"content-type": "application/json"}}))
    questions = [None, 5, 5.5, True, [], {}, ["估值?"], "", " ", "\x00", "a\x07b", "x" * 2001, "问" * 3000, "\u0085" * 3]
    top_ks = [None, "5", 0, -1, 51, 10**30, 2.0, True, [], {}, "abc"]
    collections = ["", "../etc", "A", "x" * 49, "a b", "\x00", 5, [], "/tmp", "news/../sport", "nope"]
    requests += [("POST", "/api/v1/ask", {"json": {"question": q}}) for q in questions]
    requests += [("POST", "/api/v1/ask", {"json": {"question": "估值多少?", "top_k": k}}) for k in top_ks]
    requests += [("POST", "/api/v1/ask", {"json": {"question": "估值多少?", "collection": c}}) for c in collections]
    requests += [("POST", "/api/v1/ask", {"content": b"question=x", "headers": {"content-type": "application/x-www-form-urlencoded"}}),
                 ("POST", "/api/v1/ask", {"files": {"question": ("q.txt", b"x")}}),
                 ("GET", "/api/v1/ask", {}), ("PUT", "/api/v1/ask", {"json": {}})]  # fmt: skip
    for collection in collections:
        requests += [("GET", "/api/v1/documents", {"params": {"collection": collection}}),
                     ("GET", "/api/v1/health", {"params": {"collection": collection}})]  # fmt: skip
    for doc_id in ["..", "%2e%2e", "nope", "0" * 5000, "%00", "../../etc/passwd", "中文", "%ff", "000_" + "f" * 16]:
        requests += [("GET", f"/api/v1/documents/{doc_id}", {}), ("DELETE", f"/api/v1/documents/{doc_id}", {}),
                     ("DELETE", f"/api/v1/documents/{doc_id}", {"params": {"collection": "../x"}})]  # fmt: skip
    for name in BAD_FILE_NAMES:  # the name goes through every check first; the blank content then refuses what remains
        requests.append(("POST", "/api/v1/documents", {"files": [("files", (name, b"   ", "text/plain"))], "data": {"collection": "fuzzed"}}))
    for content in BAD_CONTENTS:
        for suffix in (".txt", ".pdf", ".docx", ".html"):
            requests.append(("POST", "/api/v1/documents", {"files": [("files", (f"bad{suffix}", content, "application/octet-stream"))],
                                                           "data": {"collection": "fuzzed"}}))  # fmt: skip
    requests += [
        ("POST", "/api/v1/documents", {"files": [("files", ("big.txt", b"a" * 5_000_001, "text/plain"))], "data": {"collection": "fuzzed"}}),
        ("POST", "/api/v1/documents", {"data": {"collection": "fuzzed"}}),
        ("POST", "/api/v1/documents", {"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=x"}}),
        ("POST", "/api/v1/documents", {"content": b"--x\r\n", "headers": {"content-type": "multipart/form-data"}}),
        ("POST", "/api/v1/documents", {"json": {"files": ["/etc/passwd"]}}),
        ("POST", "/api/v1/documents", {"files": [("files", ("ok.txt", "一篇文章的内容。".encode() * 3, "text/plain"))], "data": {"collection": "../x"}}),
        ("POST", "/api/v1/documents", {"files": [("other", ("a.txt", b"x", "text/plain"))]}),
        ("POST", "/api/v1/documents", {"files": [("files", ("twin.txt", "同一篇文章。内容相同。".encode(), "text/plain")),
                                                 ("files", ("twin2.txt", "同一篇文章。内容相同。".encode(), "text/plain"))],
                                       "data": {"collection": "fuzzed"}}),
    ]  # fmt: skip
    for path in ["/api/v1", "/api/v1/", "/api/v1/nope", "/api/v1/documents/a/b", "/api/v1/../../etc/passwd", "/api/v2/ask", "/api/v1/ask/"]:
        requests += [("GET", path, {}), ("POST", path, {"json": {}})]
    requests += [("PATCH", "/api/v1/documents", {}), ("DELETE", "/api/v1/documents", {}), ("POST", "/api/v1/health", {}),
                 ("POST", "/api/v1/collections", {"json": {"name": "x"}})]  # fmt: skip
    # the page's routes: files named by path, URLs, broken events
    requests += [
        ("POST", "/gradio_api/queue/join", {"json": {"data": [[{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}], "news"], "fn_index": 0, "session_hash": "f"}}),
        ("POST", "/gradio_api/queue/join", {"json": {"data": [[{"path": "http://169.254.169.254/latest"}]], "fn_index": 0, "session_hash": "f"}}),
        ("POST", "/gradio_api/queue/join", {"content": b"\xff", "headers": {"content-type": "application/json"}}),
        ("POST", "/gradio_api/queue/join", {"json": {"fn_index": 10_000, "session_hash": "f", "data": []}}),
        ("GET", "/gradio_api/file=/etc/passwd", {}), ("GET", "/gradio_api/file=http://example.com/x", {}),
        ("POST", "/gradio_api/upload", {"files": [("files", (name or "x", b"data", "text/plain"))]}),
    ]  # fmt: skip
    return requests


def snapshot(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory):
    from fakes import FakeEncoder

    from rag import ChunkSettings, Settings
    from rag_ui.server import start

    root = tmp_path_factory.mktemp("fuzz")
    (root / "corpus").mkdir()
    (root / "corpus" / "a.txt").write_text("OpenAI这轮融资后估值将达到1500亿美元。米拉·穆拉蒂宣布离职。", encoding="utf-8")
    settings = Settings(root=root, cache_dir=root / "cache", store=None, chunk=ChunkSettings(size=40, overlap=10), lock_timeout_s=1.0)
    running = start(Assistant.load(settings, encoder=FakeEncoder()))
    yield running, root
    running.close()


def test_malformed_requests_get_json_errors_never_a_5xx_and_change_nothing(tiny_server):
    running, root = tiny_server
    requests = malformed()
    assert len(requests) >= 150
    before = snapshot(root)
    statuses = []
    with httpx.Client(base_url=running.url, timeout=60) as client:
        for method, path, arguments in requests:
            response = client.request(method, path, **arguments)
            statuses.append(response.status_code)
            assert response.status_code < 500, (method, path, arguments.get("json"), response.status_code, response.text[:300])
            if response.request.url.path.startswith("/api/v1") and response.status_code >= 400:
                assert "error" in response.json(), (method, path, response.status_code, response.text[:300])
                error = response.json()["error"]
                assert set(error) == {"type", "message"} and error["type"] and error["message"], (path, response.text)
    assert snapshot(root) == before
    # left in the upload folder: only what the upload route took and no event used (Gradio deletes those
    # after PAGE_CACHE_AGE_S, and the folder goes with the server); nothing of the API's requests
    orphans = {path.name for path in running.uploads.files()}
    assert orphans <= {name for name in BAD_FILE_NAMES} | {"x"}, orphans
    assert sum(status >= 400 for status in statuses) >= 150


def test_names_that_are_no_file_names_are_400_and_long_ones_are_kept_shortened(tiny_server):
    running, root = tiny_server
    with httpx.Client(base_url=running.url, timeout=60) as client:
        for name in ["..", "a\x00b"]:
            response = client.post("/api/v1/documents", files=[("files", (name, "一篇文章的内容。" * 3, "text/plain"))])
            assert response.status_code == 400 and response.json()["error"]["type"] == "DocumentError", (name, response.text)
        added = client.post("/api/v1/documents", files=[("files", (CHINESE_NAME, "一个标题很长的文章。内容在这里。".encode(), "text/plain"))])
        assert added.status_code == 200, added.text
        document = added.json()[0]["document"]
        assert document["name"] == CHINESE_NAME  # 104 characters: kept whole (names are never file names here)
        assert client.delete(f"/api/v1/documents/{document['id']}").status_code == 200


def test_a_refused_upload_creates_no_collection(tiny_server):
    running, root = tiny_server
    with httpx.Client(base_url=running.url, timeout=60) as client:
        refused = client.post("/api/v1/documents", files=[("files", ("empty.txt", b"  ", "text/plain"))], data={"collection": "newbeat"})
        assert refused.status_code == 400
        assert "newbeat" not in client.get("/api/v1/collections").json()
    assert not (root / "collections" / "newbeat").exists() and not (root / "index" / "newbeat").exists()


def test_unknown_routes_under_the_api_are_404_json(tiny_server):
    running, _ = tiny_server
    with httpx.Client(base_url=running.url, timeout=60) as client:
        response = client.get("/api/v1/nope")
        assert response.status_code == 404 and response.json()["error"]["type"] == "UnknownRoute"
        assert json.loads(client.post("/api/v1/ask", content=b"\xff", headers={"content-type": "application/json"}).text)["error"]["type"] == "InvalidRequest"


def test_a_question_with_a_lone_surrogate_gets_the_clis_message_on_the_page(tiny_server):
    from gradio_queue import join

    running, _ = tiny_server
    with httpx.Client(base_url=running.url, timeout=60) as client:
        reply = join(client, "respond", ["估值\ud800?", 5, [], "news", "", "", [], []], "surrogate")
    assert isinstance(reply, dict) and reply["success"], reply
    assert "unpaired surrogate" in reply["output"]["data"][0] and "估值\ufffd?" in reply["output"]["data"][0]

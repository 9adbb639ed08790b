"""rag_ui.uploads: which paths count as uploads, and that no upload is left behind on any way out —
read, refused, abandoned by the client, or cut off by a server killed in the middle (issue 23)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from rag import Assistant
from rag_ui.uploads import UploadFolder, remove_dead_servers_folders

# `make test-fast` runs on two processes: the tests that serve in this process (Gradio loads in seconds) share one
pytestmark = pytest.mark.xdist_group("web")

TESTS = Path(__file__).resolve().parents[1]


def test_holds_only_uploaded_regular_files_inside_the_folder_reached_without_symlinks(tmp_path):
    folder = UploadFolder(tmp_path / "uploads")
    uploaded = folder.path / "abc" / "a.txt"
    uploaded.parent.mkdir()
    uploaded.write_text("x")
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    (folder.path / "link.txt").symlink_to(outside)
    (folder.path / "linked-dir").symlink_to(tmp_path, target_is_directory=True)
    assert folder.holds(str(uploaded))
    for path in (str(outside), str(folder.path / "link.txt"), str(folder.path / "linked-dir" / "secret.txt"),
                 f"{folder.path}/abc/../../secret.txt", f"{folder.path}/../secret.txt", "abc/a.txt", str(folder.path / "abc"),
                 str(uploaded) + "\x00", str(folder.path)):  # fmt: skip
        assert not folder.holds(path), path
    folder.trust_uploads_of(lambda path: path != str(uploaded))  # not written by the upload route
    assert not folder.holds(str(uploaded))


def test_discard_deletes_the_files_and_the_folders_left_empty(tmp_path):
    folder = UploadFolder(tmp_path / "uploads")
    first, second = folder.path / "h1" / "a.txt", folder.path / "h2" / "b.txt"
    for path in (first, second):
        path.parent.mkdir()
        path.write_text("x")
    (folder.path / "h2" / "other.txt").write_text("in use")
    folder.discard([str(first), str(second), "/etc/passwd"])
    assert sorted(p.name for p in folder.path.rglob("*")) == ["h2", "other.txt"] and Path("/etc/passwd").exists()
    with folder.request_folder() as request:
        (request / "0.txt").write_text("x")
    assert folder.files() == [folder.path / "h2" / "other.txt"]
    folder.close()
    assert not folder.path.exists()


def test_a_starting_server_removes_the_folders_of_dead_servers_only(tmp_path):
    root = tmp_path / "uploads"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    (root / f"{dead}-abc" / "h").mkdir(parents=True)
    (root / f"{dead}-abc" / "h" / "left.pdf").write_text("x")
    (root / f"{os.getpid()}-live").mkdir()
    (root / "not-a-server").mkdir()
    remove_dead_servers_folders(root)
    assert sorted(p.name for p in root.iterdir()) == [f"{os.getpid()}-live", "not-a-server"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class FakeServer:
    """``rag serve`` with the fake encoder in a process of its own, its temp folder under the test's.
    The process starts at once and loads Python, the library and Gradio (seconds); it opens the
    collection and serves only from ``serve()`` on."""

    def __init__(self, root: Path, temp: Path, delay: float) -> None:
        env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
        self.process = subprocess.Popen([sys.executable, str(TESTS / "fake_process.py"), str(root), "serve", "-", str(delay)],
                                        env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip

    def serve(self) -> FakeServer:
        """Opens the collection and serves on a free port; returns once the server answers."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        assert self.process.stdin is not None
        self.process.stdin.write(f"{self.port}\n".encode())
        self.process.stdin.flush()
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None and time.monotonic() < deadline, self.process.stderr.read().decode()[-2000:]
            time.sleep(0.2)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def article(number: int) -> bytes:
    return f"第{number}号报道。城市图书馆今年新增了{number * 7}个阅览座位,并延长了开放时间。".encode()


def wait_for_files(folder: Path, names: set[str], timeout_s: float = 60) -> None:
    """Until the uploads named ``names`` are in ``folder`` (the API keeps a name of its own: any file counts for it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [path for path in folder.rglob("*") if path.is_file()]
        if len(found) >= len(names) and {p.name for p in found} & names:
            return
        assert time.monotonic() < deadline, f"the uploads did not arrive: {found}"
        time.sleep(0.05)


@pytest.fixture()
def server_processes():
    """``make(root, temp, delay)`` starts a ``FakeServer``; those still running at the end are killed."""
    made: list[FakeServer] = []

    def make(root: Path, temp: Path, delay: float) -> FakeServer:
        made.append(FakeServer(root, temp, delay))
        return made[-1]

    yield make
    for server in made:
        if server.process.poll() is None:
            server.kill()


def test_twenty_uploads_three_cut_off_midway_leave_no_file_behind(tmp_path, server_processes):
    from fakes import FakeEncoder
    from gradio_client import Client, handle_file

    from rag import ChunkSettings, Settings
    from rag_ui.server import start

    root, temp = tmp_path / "project", tmp_path / "tmp"
    (root / "corpus").mkdir(parents=True)
    temp.mkdir()
    (root / "corpus" / "seed.txt").write_text("种子文章。图书馆的历史很长。", encoding="utf-8")
    uploads = temp / "rag-uploads"
    # the two server processes of 19 and 20 load meanwhile (the second opens the collection only after the first is killed)
    first, second = server_processes(root, temp, delay=30.0), server_processes(root, temp, delay=0.0)
    # 1-17 read and 18 cut off by its client, in a server of this process (its own upload folder)
    settings = Settings(root=root, cache_dir=root / "cache", store=None, chunk=ChunkSettings(size=40, overlap=10))
    running = start(Assistant.load(settings, encoder=FakeEncoder()))
    port = int(running.url.rstrip("/").rsplit(":", 1)[1])
    with httpx.Client(base_url=running.url, timeout=60) as client:
        for number in range(14):  # the API
            added = client.post("/api/v1/documents", files=[("files", (f"n{number}.txt", article(number), "text/plain"))])
            assert added.status_code == 200, added.text
    page = Client(running.url, verbose=False)
    for number in range(14, 17):  # the page
        path = tmp_path / f"p{number}.txt"
        path.write_bytes(article(number))
        status, *_ = page.predict([handle_file(str(path))], "news", api_name="/add_files")
        assert "1 added" in status, status
    assert running.uploads.files() == []  # each deleted once read
    body = b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"cut.txt\"\r\n\r\n" + article(17)
    with socket.create_connection(("127.0.0.1", port)) as raw:  # the client goes away in the middle of its upload
        raw.sendall(b"POST /api/v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                    b"Content-Length: 100000\r\n\r\n" + body)  # fmt: skip
    time.sleep(1)
    assert running.uploads.files() == []
    folder = running.uploads.path
    running.close()
    assert not folder.exists()
    # 19 and 20: a server process killed while it reads two uploads, the API's and the page's
    server = first.serve()
    api_file, page_file = tmp_path / "k18.txt", tmp_path / "k19.txt"
    api_file.write_bytes(article(18))
    page_file.write_bytes(article(19))
    calls = [lambda: httpx.post(f"{server.url}/api/v1/documents", files=[("files", (api_file.name, api_file.read_bytes(), "text/plain"))], timeout=120),
             lambda: Client(server.url, verbose=False).predict([handle_file(str(page_file))], "news", api_name="/add_files")]  # fmt: skip
    for call in calls:
        threading.Thread(target=lambda call=call: _ignore_errors(call), daemon=True).start()
    wait_for_files(uploads, {"k18.txt", "k19.txt"})
    server.kill()
    server = second.serve()  # starting cleans up after the dead one
    assert [path for path in uploads.rglob("*") if path.is_file()] == []
    assert len(httpx.get(f"{server.url}/api/v1/documents").json()) == 1 + 17
    server.stop()
    assert list(uploads.iterdir()) == []


def _ignore_errors(call) -> None:
    try:
        call()
    except Exception:  # the server was killed: the request fails, as intended
        pass

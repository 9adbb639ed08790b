"""What a bad RAG_STORE does: exception type, message, and how long until it fails.

PYTHONPATH=. python eval/milvus/spikes/errors.py
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import check
from pymilvus import MilvusClient


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connect(uri: str, **kwargs) -> str:
    client = MilvusClient(uri, **kwargs)
    try:
        return f"connected: {client.list_collections()}"
    finally:
        client.close()


print("## bad URIs")
nothing = f"http://127.0.0.1:{free_port()}"
check(f"nothing listening ({nothing}), no timeout", lambda: connect(nothing))
check(f"nothing listening ({nothing}), timeout=3", lambda: connect(nothing, timeout=3))
check("ftp://x", lambda: connect("ftp://x"))
check("localhost:19530 (no scheme)", lambda: connect("localhost:19530"))
check("foo.sqlite", lambda: connect("foo.sqlite"))
check("/no/such/dir/x.db", lambda: connect("/no/such/dir/x.db"))
check("tcp://127.0.0.1:1 (tcp scheme accepted?)", lambda: connect("tcp://127.0.0.1:1", timeout=2))

# A loopback port that accepts TCP connections but never answers (a hung server or a proxy).
with socket.socket() as silent:
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    mute = f"http://127.0.0.1:{silent.getsockname()[1]}"
    check(f"accepts but never answers ({mute}), no timeout", lambda: connect(mute))
    check(f"accepts but never answers ({mute}), timeout=3", lambda: connect(mute, timeout=3))

print("## a .db file already open in another process (Lite)")
with tempfile.TemporaryDirectory() as tmp:
    db = str(Path(tmp) / "shared.db")
    holder_code = (
        "import sys\nfrom pymilvus import MilvusClient\n"
        f"c = MilvusClient({db!r}); c.create_collection('c', dimension=4)\nprint('open', flush=True)\n"
        "sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", holder_code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout and holder.stdin
    print(f"- holder process: {holder.stdout.readline().strip()}")
    # pymilvus only says "Open local milvus failed"; milvus_lite logs the cause.
    causes: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: causes.append(repr(record.exc_info[1]) if record.exc_info else record.getMessage())
    lite_log = logging.getLogger("milvus_lite.server_manager")
    lite_log.addHandler(handler)
    lite_log.setLevel(logging.ERROR)
    check("second process opens the same .db", lambda: connect(db))
    print(f"- milvus_lite logged: {causes}")
    lite_log.removeHandler(handler)
    check("second process opens the same .db, timeout=3", lambda: connect(db, timeout=3))
    lock_files = sorted(p.name for p in Path(db).iterdir()) if Path(db).is_dir() else "not a directory"
    print(f"- what the .db path is: {'directory' if Path(db).is_dir() else 'file'}: {lock_files}")
    holder.stdin.close()
    holder.wait(timeout=30)
    check("after the holder exited, open again", lambda: connect(db))

print("## the server goes away under an open client")
from rag_eval.milvus_server import MilvusServerProcess

server = MilvusServerProcess(timeout_s=180)
uri = server.start()
client = MilvusClient(uri, timeout=5)
client.create_collection("c", dimension=4)
check("search on a missing collection", lambda: client.search("nope", [[0.1] * 4], limit=1))

# A frozen server (SIGSTOP): does MilvusClient(timeout=5) bound a call, or only the per-call timeout?
assert server.pid is not None
os.kill(server.pid, signal.SIGSTOP)
try:
    check("frozen server: search(timeout=2)", lambda: client.search("c", [[0.1] * 4], limit=1, timeout=2))
    pending: list[object] = []
    caller = threading.Thread(
        target=lambda: pending.append(
            check("frozen server: search() without timeout", lambda: client.search("c", [[0.1] * 4], limit=1))
        ),
        daemon=True,
    )
    caller.start()
    caller.join(20)
    print(f"- frozen server, no per-call timeout: {'still waiting after 20 s' if caller.is_alive() else 'returned'}")
finally:
    os.kill(server.pid, signal.SIGCONT)
caller.join(30)
server.stop()
check("list_collections after the server stopped (client timeout=5)", client.list_collections)
check(
    "search after the server stopped, timeout=2 per call", lambda: client.search("c", [[0.1] * 4], limit=1, timeout=2)
)
started = time.perf_counter()
client.close()
print(f"- close(): {time.perf_counter() - started:.2f} s")

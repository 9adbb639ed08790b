"""What the launcher's loopback forwarder adds to a request: the same searches through it, and
from a client inside the server's network namespace (nsenter), which reaches 19530 directly.

    PYTHONPATH=. python eval/milvus/spikes/forwarder_overhead.py
"""

from __future__ import annotations

import subprocess
import sys

from rag_eval.milvus_server import MilvusServerProcess

CLIENT = """
import statistics, sys, time
import numpy as np
from pymilvus import MilvusClient
c = MilvusClient(sys.argv[1])
if sys.argv[2] == "setup":
    c.create_collection("f", dimension=384, metric_type="IP", consistency_level="Bounded")
    v = np.random.default_rng(0).standard_normal((10_000, 384)).astype("float32")
    for at in range(0, 10_000, 2000):
        c.insert("f", [{"id": i, "vector": v[i].tolist()} for i in range(at, at + 2000)])
    c.flush("f")
    raise SystemExit
q = np.random.default_rng(1).standard_normal((300, 384)).astype("float32")
took = []
for x in q:
    s = time.perf_counter(); c.search("f", [x.tolist()], limit=10); took.append((time.perf_counter() - s) * 1000)
print(f"search p50 {statistics.median(took[100:]):.2f} ms", end="; ")
took = []
for _ in range(300):
    s = time.perf_counter(); c.get_server_version(); took.append((time.perf_counter() - s) * 1000)
print(f"get_server_version p50 {statistics.median(took[100:]):.2f} ms")
"""

server = MilvusServerProcess(timeout_s=180)
with server as uri:
    subprocess.run([sys.executable, "-c", CLIENT, uri, "setup"], check=True, timeout=300)
    for label, argv in (
        ("through the forwarder", [sys.executable, "-c", CLIENT, uri, "run"]),
        ("inside the namespace, direct", ["nsenter", "-t", str(server.pid), "-n", sys.executable, "-c", CLIENT,
                                          "http://127.0.0.1:19530", "run"]),
    ):  # fmt: skip
        for _ in range(2):
            out = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=300).stdout.strip()
            print(f"- {label}: {out}", flush=True)

"""Server 2.3.5: does data survive SIGTERM / kill -9, and how long does a restart take?

PYTHONPATH=. python eval/milvus/spikes/server_restart.py [kill|term]
"""

import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pymilvus import MilvusClient

import rag_eval.milvus_server as ms
from rag_eval.milvus_server import MilvusServerProcess

for item in sys.argv[2:]:  # extra settings to try, e.g. common.session.ttl=10
    key, value = item.split("=")
    ms._SETTINGS[key] = value

mode = sys.argv[1] if len(sys.argv) > 1 else "kill"
data = Path(tempfile.mkdtemp(prefix="milvus-restart-"))
rng = np.random.default_rng(0)

server = MilvusServerProcess(data, timeout_s=180)
server.start()
client = MilvusClient(server.uri)
client.create_collection("c", dimension=8, consistency_level="Strong")
client.insert("c", [{"id": i, "vector": rng.random(8).tolist()} for i in range(1000)])
client.delete("c", ids=[0, 1])
print("before:", client.query("c", filter="id >= 0", output_fields=["count(*)"]))
client.close()
if mode == "kill":
    os.kill(server.pid, signal.SIGKILL)
    server.proc.wait()
server.stop()
print(f"{mode}: stopped in {server.stop_seconds:.1f} s, exit {server.proc.returncode}")

t0 = time.monotonic()
again = MilvusServerProcess(data, timeout_s=180)
again.start()
print(f"restart: ready (healthz + list_collections) in {again.start_seconds:.1f} s")
t1 = time.monotonic()
client = MilvusClient(again.uri)
print("collections:", client.list_collections(), client.get_load_state("c"), f"{time.monotonic() - t1:.1f} s")
t1 = time.monotonic()
client.load_collection("c", timeout=120)
print(f"load_collection {time.monotonic() - t1:.1f} s")
t1 = time.monotonic()
print("after:", client.query("c", filter="id >= 0", output_fields=["count(*)"], consistency_level="Strong"))
print(f"first query {time.monotonic() - t1:.1f} s")
print(f"restart to first query: {time.monotonic() - t0:.1f} s")
client.close()
again.stop()
print(f"stop {again.stop_seconds:.1f} s exit {again.proc.returncode}")
shutil.rmtree(data)

"""Milvus Lite 3.x: search latency before/after flush, and while HNSW builds in the background.

PYTHONPATH=. python eval/milvus/spikes/lite_background_index.py [rows]
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time

from _common import peak_rss_mb, release_lite, unit_vectors
from pymilvus import DataType, MilvusClient

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
vectors, queries = unit_vectors(N, 384, seed=1), unit_vectors(50, 384, seed=2)
tmp = tempfile.mkdtemp(prefix="lite-bg-")
client = MilvusClient(tmp + "/x.db")
schema = client.create_schema(auto_id=False)
schema.add_field("id", DataType.INT64, is_primary=True)
schema.add_field("dense", DataType.FLOAT_VECTOR, dim=384)
index = client.prepare_index_params()
index.add_index("dense", index_type="HNSW", metric_type="IP", params={"M": 16, "efConstruction": 200})
client.create_collection("h", schema=schema, index_params=index)


def p50_ms() -> float:
    took = []
    for q in queries:
        started = time.perf_counter()
        client.search("h", [q.tolist()], limit=10, search_params={"params": {"ef": 64}})
        took.append((time.perf_counter() - started) * 1000)
    return statistics.median(took)


started = time.perf_counter()
for at in range(0, N, 1000):
    client.insert("h", [{"id": i, "dense": vectors[i].tolist()} for i in range(at, min(N, at + 1000))])
print(f"- insert {N:,}: {N / (time.perf_counter() - started):,.0f} rows/s")
print(f"- before flush: search p50 {p50_ms():.1f} ms")
started = time.perf_counter()
client.flush("h")
print(
    f"- flush {time.perf_counter() - started:.1f} s; describe_index right after: {client.describe_index('h', 'dense')}"
)
for _ in range(40):  # bounded: at most ~10 minutes
    print(f"- t+{time.perf_counter() - started:.0f} s after flush: search p50 {p50_ms():.1f} ms", flush=True)
    if p50_ms() < 100:
        break
    time.sleep(10)
print(f"- peak RSS of this process {peak_rss_mb(os.getpid()):.0f} MB")
client.close()
release_lite(tmp + "/x.db")
shutil.rmtree(tmp)

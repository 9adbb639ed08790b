"""Insert throughput, search latency at 10k and 100k rows (384-d, random unit vectors), peak RSS.

    PYTHONPATH=. python eval/milvus/spikes/perf.py lite|server

One collection per index type grows from 10k to 100k rows; each size is flushed and its index
finished before 200 single-vector searches (top 10, the collection's default consistency).
"""

from __future__ import annotations

import statistics
import time

from _common import engine, kind_from_argv, peak_rss_mb, unit_vectors
from pymilvus import DataType, MilvusClient

DIM, BATCH = 384, 1000
INDEXES = {
    "FLAT": ({}, {}),
    "HNSW": ({"M": 16, "efConstruction": 200}, {"ef": 64}),
}
kind = kind_from_argv()
vectors = unit_vectors(100_000, DIM, seed=1)
queries = unit_vectors(200, DIM, seed=2)


def create(client: MilvusClient, name: str, index_type: str) -> None:
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=32)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index("dense", index_type=index_type, metric_type="IP", params=INDEXES[index_type][0])
    client.create_collection(name, schema=schema, index_params=index)


def insert(client: MilvusClient, name: str, start: int, stop: int) -> float:
    started = time.perf_counter()
    for at in range(start, stop, BATCH):
        client.insert(
            name,
            [
                {"id": i, "doc_id": f"d{i // 20}", "dense": vectors[i].tolist()}
                for i in range(at, min(stop, at + BATCH))
            ],
        )
    return (stop - start) / (time.perf_counter() - started)


def settle(client: MilvusClient, name: str) -> float:
    """Flush, then wait (bounded) until the index covers every row; seconds taken."""
    started = time.perf_counter()
    client.flush(name)
    for _ in range(600):
        info = client.describe_index(name, "dense")
        if info.get("pending_index_rows", 0) == 0 and info.get("indexed_rows", 0) >= info.get("total_rows", 0):
            break
        time.sleep(0.5)
    return time.perf_counter() - started


def latency(client: MilvusClient, name: str, search_params: dict, flt: str | None = None) -> str:
    client.search(name, [queries[0].tolist()], limit=10)  # warm-up
    took = []
    for q in queries:
        started = time.perf_counter()
        client.search(name, [q.tolist()], limit=10, filter=flt or "", search_params={"params": search_params})
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return f"p50 {statistics.median(took):.1f} ms p90 {took[180]:.1f} ms"


with engine(kind) as (uri, pid):
    client = MilvusClient(uri, timeout=60)
    print(f"## {kind}: peak RSS before: {peak_rss_mb(pid):.0f} MB")
    for index_type, (_, search_params) in INDEXES.items():
        name = f"perf_{index_type.lower()}"
        create(client, name, index_type)
        done = 0
        for size in (10_000, 100_000):
            rate = insert(client, name, done, size)
            done = size
            waited = settle(client, name)
            plain = latency(client, name, search_params)
            filtered = latency(client, name, search_params, 'doc_id in ["d1", "d7", "d300", "d4000"]')
            print(
                f"- {index_type} {size:,} rows: insert {rate:,.0f} rows/s; flush+index {waited:.1f} s; "
                f"search {plain}; with doc_id in [4 docs] {filtered}; peak RSS {peak_rss_mb(pid):.0f} MB",
                flush=True,
            )
        client.drop_collection(name)
    client.close()

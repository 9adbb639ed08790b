"""Read-your-writes per consistency level, its search latency at 10k rows, and cross-process visibility.

PYTHONPATH=. python eval/milvus/spikes/consistency.py lite|server
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from _common import engine, kind_from_argv, unit_vectors
from pymilvus import DataType, MilvusClient

DIM = 384
LEVELS = [None, "Strong", "Session", "Bounded", "Eventually"]  # None: the collection's default


def create(client: MilvusClient, name: str, n: int) -> None:
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=64)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index("dense", index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=index)  # default level: Bounded
    vectors = unit_vectors(n, DIM)
    for start in range(0, n, 2000):
        client.insert(
            name, [{"id": i, "text": "v0", "dense": vectors[i].tolist()} for i in range(start, min(n, start + 2000))]
        )
    # Lite searches unflushed rows (its memtable, flushed at 128 MB) in Python: 10k rows 814 ms
    # a search before flush, 13 ms after. On the server flush seals the growing segment.
    client.flush(name)


def read_your_writes(client: MilvusClient, name: str, level: str | None, trials: int = 10) -> str:
    """Each write is read back at once at `level`. Before the upsert and the delete, a Strong read
    makes sure the reader already saw the row, so a stale read shows the old state, not nothing."""
    extra = {} if level is None else {"consistency_level": level}
    vector = unit_vectors(1, DIM, seed=99)[0].tolist()
    seen = {"insert→get": 0, "insert→search": 0, "upsert→get": 0, "delete→get": 0}
    for t in range(trials):
        pk = 1_000_000 + t + 100 * LEVELS.index(level)
        client.insert(name, [{"id": pk, "text": "new", "dense": vector}])
        seen["insert→get"] += bool(client.get(name, ids=[pk], output_fields=["text"], **extra))
        hits = client.search(name, [vector], limit=1, filter=f"id == {pk}", **extra)[0]
        seen["insert→search"] += bool(hits)
        assert client.get(name, ids=[pk], consistency_level="Strong")
        client.upsert(name, [{"id": pk, "text": "changed", "dense": vector}])
        rows = client.get(name, ids=[pk], output_fields=["text"], **extra)
        seen["upsert→get"] += bool(rows) and rows[0]["text"] == "changed"
        assert client.get(name, ids=[pk], consistency_level="Strong")
        client.delete(name, ids=[pk])
        seen["delete→get"] += not client.get(name, ids=[pk], **extra)
    return ", ".join(f"{k} {v}/{trials}" for k, v in seen.items())


def latency_ms(client: MilvusClient, name: str, level: str | None, n: int = 200) -> str:
    extra = {} if level is None else {"consistency_level": level}
    queries = unit_vectors(n, DIM, seed=7)
    client.search(name, [queries[0].tolist()], limit=10, **extra)  # warm-up
    took = []
    for q in queries:
        started = time.perf_counter()
        client.search(name, [q.tolist()], limit=10, **extra)
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return f"p50 {statistics.median(took):.1f} ms, p90 {took[int(0.9 * n)]:.1f} ms"


def reader(uri: str, name: str, level: str) -> None:
    """Child process: for each id on stdin, poll get() until it is visible; print how long that took."""
    client = MilvusClient(uri, timeout=30)
    extra = {} if level == "default" else {"consistency_level": level}
    print("ready", flush=True)
    for line in sys.stdin:
        pk = int(line)
        started = time.perf_counter()
        polls = 0
        while time.perf_counter() - started < 15:  # bounded
            polls += 1
            if client.get(name, ids=[pk], **extra):
                break
            time.sleep(0.01)
        else:
            print(f"not visible after 15 s ({polls} polls)", flush=True)
            continue
        print(f"{(time.perf_counter() - started) * 1000:.0f} ms ({polls} polls)", flush=True)


def cross_process(client: MilvusClient, uri: str, name: str, level: str) -> str:
    child = subprocess.Popen(
        [sys.executable, __file__, "--reader", uri, name, level],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdin and child.stdout
    child.stdout.readline()  # ready
    results = []
    vector = unit_vectors(1, DIM, seed=5)[0].tolist()
    for t in range(5):
        pk = 2_000_000 + t + 100 * ["default", "Strong", "Session", "Bounded", "Eventually"].index(level)
        client.insert(name, [{"id": pk, "text": "x", "dense": vector}])
        child.stdin.write(f"{pk}\n")
        child.stdin.flush()
        results.append(child.stdout.readline().strip())
        time.sleep(0.5)
    child.stdin.close()
    child.wait(timeout=30)
    return "; ".join(results)


if __name__ == "__main__":
    if sys.argv[1] == "--reader":
        reader(*sys.argv[2:5])
        sys.exit(0)
    kind = kind_from_argv()
    with engine(kind) as (uri, _pid):
        client = MilvusClient(uri, timeout=60)
        create(client, "c", 10_000)
        print(f"## {kind}: 10,000 rows, FLAT/IP, collection default level Bounded")
        for level in LEVELS:
            print(
                f"- read-your-writes, one client, level {level or 'default'}: {read_your_writes(client, 'c', level)}",
                flush=True,
            )
        for level in LEVELS:
            print(
                f"- search latency (nq=1, top 10), level {level or 'default'}: {latency_ms(client, 'c', level)}",
                flush=True,
            )
        if kind == "server":  # a .db file can be open in one process only (see errors.py)
            for level in ["default", "Strong", "Session", "Bounded", "Eventually"]:
                print(
                    f"- another process polls get() after insert, level {level}: {cross_process(client, uri, 'c', level)}",
                    flush=True,
                )
        client.close()

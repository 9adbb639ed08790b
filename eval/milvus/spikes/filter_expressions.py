"""How large and how deep a search's filter expression may be: long `in` lists (size, latency), chains
of `a <= dkey <= b` ranges joined by `or` (depth), the same ranges in balanced parentheses, negations.

PYTHONPATH=. python eval/milvus/spikes/filter_expressions.py lite|server
"""

from __future__ import annotations

import statistics
import time

from _common import check, engine, kind_from_argv
from pymilvus import DataType, MilvusClient

N = 100_000  # rows, one a document key
kind = kind_from_argv()


def balanced(terms: list[str]) -> str:
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return f"({balanced(terms[:middle])}) or ({balanced(terms[middle:])})"


with engine(kind) as (uri, _pid):
    client = MilvusClient(uri, timeout=120)
    print(f"## {kind}: {N:,} rows, dkey 0..{N - 1}")
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("dkey", DataType.INT64)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    index = client.prepare_index_params()
    index.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_collection("keys", schema=schema, index_params=index, consistency_level="Strong")
    for at in range(0, N, 10_000):
        client.insert("keys", [{"id": i, "dkey": i, "v": [float(i % 97), float(i % 89)]} for i in range(at, at + 10_000)])
    client.flush("keys")

    def search(expression: str, k: int = 10) -> str:
        times, found = [], []
        for _ in range(3):
            started = time.perf_counter()
            hits = client.search("keys", data=[[1.0, 2.0]], limit=k, filter=expression, output_fields=["dkey"])
            times.append((time.perf_counter() - started) * 1000)
            found = [hit["entity"]["dkey"] for hit in hits[0]]
        return f"{len(expression):,} chars, {len(found)} hits, median {statistics.median(times):.0f} ms, keys {sorted(found)[:3]}…"

    check("no filter", lambda: search(""))
    check("dkey < 100000 and dkey not in [5]", lambda: search("dkey < 100000 and dkey not in [5]"))
    for count in (1_000, 10_000, 50_000):
        keys = list(range(0, 2 * count, 2))
        check(f"dkey in [{count:,} keys]", lambda keys=keys: search(f"dkey in {keys}"))
    keys = list(range(0, N, 2))
    check("dkey not in [50,000 keys]", lambda: search(f"dkey not in {keys}"))
    check("not (dkey in [50,000 keys])", lambda: search(f"not (dkey in {keys})"))
    for count in (150_000, 600_000):  # 1 MB, 4.6 MB: keys past the rows' (they match nothing)
        keys = list(range(1_000_000, 1_000_000 + count))
        check(f"dkey in [{count:,} keys] or dkey == 7", lambda keys=keys: search(f"dkey in {keys} or dkey == 7"))
    check("a <= dkey <= b", lambda: search("0 <= dkey <= 1"))
    for count in (24, 32, 40, 45, 48, 50, 64):
        ranges = [f"dkey >= {1000 * n} and dkey <= {1000 * n + 1}" for n in range(count)]
        check(f"{count} ranges joined by or", lambda ranges=ranges: search(" or ".join(ranges)))
        check(f"{count} ranges joined by or, each in parentheses", lambda ranges=ranges: search(" or ".join(f"({r})" for r in ranges)))
    for count in (64, 1_000):
        ranges = [f"dkey >= {50 * n} and dkey <= {50 * n + 1}" for n in range(count)]
        check(f"{count} ranges in balanced parentheses", lambda ranges=ranges: search(balanced(ranges)))
    check("(visible) and (20 ranges or in-list of 1,000)",
          lambda: search("(dkey < 100000 and dkey not in [5]) and (" + " or ".join(f"(dkey >= {1000 * n} and dkey <= {1000 * n + 3})" for n in range(20))
                         + f" or dkey in {list(range(50_001, 52_001, 2))})"))
    check("not (20 ranges) with visible", lambda: search("(dkey < 100000) and not (" + " or ".join(f"(dkey >= {5000 * n} and dkey <= {5000 * n + 4990})" for n in range(20)) + ")"))
    client.close()

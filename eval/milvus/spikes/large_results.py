"""Past 16,384: query without limit, query_iterator, long `in` lists, delete by a wide filter.

PYTHONPATH=. python eval/milvus/spikes/large_results.py lite|server
"""

from __future__ import annotations

from _common import check, engine, kind_from_argv
from pymilvus import DataType, MilvusClient

N = 20_000
kind = kind_from_argv()
with engine(kind) as (uri, _pid):
    client = MilvusClient(uri, timeout=60)
    print(f"## {kind}: {N:,} rows")
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=32)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    index = client.prepare_index_params()
    index.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_collection("big", schema=schema, index_params=index, consistency_level="Strong")
    for at in range(0, N, 5000):
        client.insert("big", [{"id": i, "doc_id": f"d{i // 4}", "v": [0.0, float(i)]} for i in range(at, at + 5000)])
    client.flush("big")

    check("query(filter) without limit", lambda: len(client.query("big", filter="id >= 0", output_fields=["id"])))
    check("query(filter, limit=16384)", lambda: len(client.query("big", filter="id >= 0", limit=16384)))

    def iterate(batch_size: int) -> str:
        iterator = client.query_iterator("big", batch_size=batch_size, filter="id >= 0", output_fields=["doc_id"])
        ids: set[int] = set()
        for _ in range(1000):  # bounded
            batch = iterator.next()
            if not batch:
                break
            ids.update(row["id"] for row in batch)
        iterator.close()
        return f"{len(ids):,} distinct ids"

    check("query_iterator(batch_size=1000)", lambda: iterate(1000))
    check("query_iterator(batch_size=16384)", lambda: iterate(16384))
    docs = [f"d{i}" for i in range(2500)]  # 10,000 rows
    check(
        "query doc_id in [2,500 values] limit 16384",
        lambda: len(client.query("big", filter=f"doc_id in {docs}", limit=16384)),
    )
    check("filter string length for 2,500 values (chars)", lambda: len(f"doc_id in {docs}"))
    check("delete filter doc_id in [2,500 values]", lambda: client.delete("big", filter=f"doc_id in {docs}"))
    check("count(*) after", lambda: client.query("big", filter="", output_fields=["count(*)"]))
    check("delete filter id >= 0 (all)", lambda: client.delete("big", filter="id >= 0"))
    check("count(*) after", lambda: client.query("big", filter="", output_fields=["count(*)"]))
    client.close()

"""Telling the engines apart at run time, and what trial-and-error would leave behind.

PYTHONPATH=. python eval/milvus/spikes/capabilities.py lite|server
"""

from __future__ import annotations

import re

from _common import check, engine, kind_from_argv
from pymilvus import AnnSearchRequest, DataType, Function, FunctionType, MilvusClient, RRFRanker


def capabilities(client: MilvusClient) -> dict[str, object]:
    """What the backend can rely on, from one cheap RPC (no collection is touched)."""
    info = client.get_server_version(detail=True)
    version = str(info.get("version", ""))
    lite = version.startswith("milvus_lite") or info.get("deploy_mode") == "embedded"
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", client.get_server_version())
    numbers = tuple(int(x) for x in match.groups()) if match else (0, 0, 0)
    return {
        "engine": "lite" if lite else "server",
        "version": numbers,
        "deploy_mode": info.get("deploy_mode"),
        "sparse_vectors": lite or numbers >= (2, 4, 0),
        "hybrid_search": lite or numbers >= (2, 4, 0),
        "multiple_vector_fields": lite or numbers >= (2, 4, 0),
        "bm25_function": lite or numbers >= (2, 5, 0),
    }


kind = kind_from_argv()
with engine(kind) as (uri, _pid):
    client = MilvusClient(uri, timeout=30)
    print(f"## {kind}")
    check("capabilities()", lambda: capabilities(client))

    # What happens when one just tries (the 2.3 server creates the collection, then fails).
    def sparse_attempt() -> str:
        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        index = client.prepare_index_params()
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        client.create_collection("try_sparse", schema=schema, index_params=index)
        return "created"

    check("create a sparse collection", sparse_attempt)
    check("collections left behind", client.list_collections)

    def dense_collection() -> str:
        client.create_collection("dense", dimension=4, consistency_level="Strong")
        client.insert("dense", [{"id": i, "vector": [float(i), 1.0, 0.0, 0.0]} for i in range(5)])
        return "ok"

    check("create a dense collection", dense_collection)
    check(
        "hybrid_search (two requests on one dense field, RRF)",
        lambda: client.hybrid_search(
            "dense",
            [
                AnnSearchRequest([[1.0, 0, 0, 0]], "vector", {}, limit=3),
                AnnSearchRequest([[0, 1.0, 0, 0]], "vector", {}, limit=3),
            ],
            RRFRanker(),
            limit=3,
        ),
    )

    def bm25_attempt() -> str:
        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("text", DataType.VARCHAR, max_length=1000, enable_analyzer=True)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function("bm25", FunctionType.BM25, input_field_names=["text"], output_field_names=["sparse"])
        )
        index = client.prepare_index_params()
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        client.create_collection("try_bm25", schema=schema, index_params=index)
        return "created"

    check("create a collection with a BM25 function", bm25_attempt)
    check("collections left behind", client.list_collections)
    client.close()

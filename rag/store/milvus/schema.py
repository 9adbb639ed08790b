"""The store's collections in Milvus: their fields and the index of each vector field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient

from rag.config import VectorIndexSettings

FLAT: Mapping[str, Any] = {"type": "FLAT"}
DUMMY = np.zeros(2, dtype=np.float32)  # the vector of tables that need none (§3)
STATE_ID, FENCE_ID = 0, 1  # rows of the meta collection
MAX_LIMIT = 16_384  # the server refuses a larger top-k or query limit (§4)


def schema(client: MilvusClient, kind: str, dimension: int, sparse: bool) -> Any:
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    if kind in ("chunks", "sentences"):
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("dkey", DataType.INT64)
        schema.add_field("start", DataType.INT32)
        schema.add_field("end", DataType.INT32)
        if kind == "chunks":
            schema.add_field("length", DataType.INT32)
            schema.add_field("sentences", DataType.JSON)  # {"ids": [...]}: 2.3 takes only objects as JSON
            schema.add_field("terms", DataType.JSON)  # {"t": [term ids], "c": [counts]}
        else:
            schema.add_field("chunks", DataType.JSON)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        if kind == "chunks" and sparse:
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    elif kind == "aux":
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)  # d<dkey>, x<dkey>.<part>, t<term id>
        schema.add_field("kind", DataType.VARCHAR, max_length=8)  # doc, text, term
        schema.add_field("dkey", DataType.INT64)  # −1 for terms
        schema.add_field("number", DataType.INT64)  # a text's part; the generation of a term's df
        schema.add_field("data", DataType.JSON)
        schema.add_field("text", DataType.VARCHAR, max_length=65_535)
        schema.add_field("dummy", DataType.FLOAT_VECTOR, dim=len(DUMMY))
    else:  # meta
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("state", DataType.JSON)
        schema.add_field("dummy", DataType.FLOAT_VECTOR, dim=len(DUMMY))
    return schema


# Sentence tables beyond exact_max: an HNSW graph. IVF_FLAT with the local store's lists and 128
# probes cost 121 ms a search over 550k sentences on the 2.3 server, its largest stage
# (eval/milvus/notes.md §11); HNSW searched 100k rows in 4.2 ms (§8). Chunks keep IVF_FLAT, whose
# recall held better at 1M in FAISS (0.965 vs 0.70 for HNSW32 ef 128: eval/reports/bench.md).
HNSW_M, HNSW_CONSTRUCTION = 16, 200


def approximate_index(kind: str, rows: int, vectors: VectorIndexSettings, server: bool) -> dict[str, Any]:
    """The index of a ``kind`` table of ``rows`` vectors: HNSW for sentences on a server; else
    IVF_FLAT with the lists of ``rag.vectors.build_ivf``: 4·√N, yet at least 39 vectors a list
    (FAISS's minimum for training). Lite searches every row in Python whatever the index (§8), so
    it keeps IVF_FLAT's exact cosines. Searches pass their nprobe or ef."""
    if kind == "sentences" and server:
        return {"type": "HNSW", "M": HNSW_M, "efConstruction": HNSW_CONSTRUCTION}
    nlist = max(1, min(int(vectors.ivf_lists_per_sqrt * math.sqrt(rows)), rows // 39, 65_536))
    return {"type": "IVF_FLAT", "nlist": nlist}


def nprobe(table: str, index: Mapping[str, Any], vectors: VectorIndexSettings) -> int:
    """The lists a search of a ``table`` ("chunks", "sentences") probes: search-time settings (an
    older state's stored nprobe is ignored)."""
    return vectors.probes("chunk" if table == "chunks" else "sentence", int(index["nlist"]))


def search_params(table: str, index: Mapping[str, Any], vectors: VectorIndexSettings, k: int) -> dict[str, Any]:
    if index["type"] == "IVF_FLAT":
        return {"metric_type": "IP", "params": {"nprobe": nprobe(table, index, vectors)}}
    if index["type"] == "HNSW":
        return {"metric_type": "IP", "params": {"ef": max(k, vectors.hnsw_ef)}}
    return {"metric_type": "IP", "params": {}}


def described(table: str, index: Mapping[str, Any], vectors: VectorIndexSettings) -> str:
    if index["type"] == "HNSW":
        return f"HNSW (M {index['M']}, efConstruction {index['efConstruction']}, ef ≥ {vectors.hnsw_ef})"
    return str(index["type"]) + (f" (nlist {index['nlist']}, nprobe {nprobe(table, index, vectors)})" if "nlist" in index else "")


def index_params(client: MilvusClient, kind: str, sparse: bool, index: Mapping[str, Any] = FLAT) -> Any:
    params = client.prepare_index_params()
    if kind in ("chunks", "sentences"):
        # pymilvus 3 flattens ``params`` into the request, where Lite does not look (it kept its
        # default of 128 lists); nested once more, they travel as the JSON both engines read
        built = {key: value for key, value in index.items() if key != "type"}  # nlist, or M and efConstruction
        params.add_index("dense", index_type=index["type"], metric_type="IP", params={"params": built} if built else {})
        if kind == "chunks" and sparse:
            params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    else:
        params.add_index("dummy", index_type="FLAT", metric_type="L2")
    return params

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


def approximate_index(rows: int, vectors: VectorIndexSettings) -> dict[str, Any]:
    """IVF_FLAT for a table of ``rows`` vectors with the lists of ``rag.vectors.build_ivf``: 4·√N,
    yet at least 39 vectors a list (FAISS's minimum for training). Searches pass their nprobe."""
    nlist = max(1, min(int(vectors.ivf_lists_per_sqrt * math.sqrt(rows)), rows // 39, 65_536))
    return {"type": "IVF_FLAT", "nlist": nlist}


def nprobe(index: Mapping[str, Any], vectors: VectorIndexSettings) -> int:
    """The lists a search probes: a search-time setting (an older state's stored nprobe is ignored)."""
    return min(vectors.ivf_probe, int(index["nlist"]))


def search_params(index: Mapping[str, Any], vectors: VectorIndexSettings) -> dict[str, Any]:
    return {"metric_type": "IP", "params": {"nprobe": nprobe(index, vectors)} if index["type"] == "IVF_FLAT" else {}}


def described(index: Mapping[str, Any], vectors: VectorIndexSettings) -> str:
    return str(index["type"]) + (f" (nlist {index['nlist']}, nprobe {nprobe(index, vectors)})" if "nlist" in index else "")


def index_params(client: MilvusClient, kind: str, sparse: bool, index: Mapping[str, Any] = FLAT) -> Any:
    params = client.prepare_index_params()
    if kind in ("chunks", "sentences"):
        # pymilvus 3 flattens ``params`` into the request, where Lite does not look (it kept its
        # default of 128 lists); nested once more, they travel as the JSON both engines read
        params.add_index("dense", index_type=index["type"], metric_type="IP", params={"params": {"nlist": index["nlist"]}} if "nlist" in index else {})
        if kind == "chunks" and sparse:
            params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    else:
        params.add_index("dummy", index_type="FLAT", metric_type="L2")
    return params

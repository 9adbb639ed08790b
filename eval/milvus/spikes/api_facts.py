"""Schema, index types, sparse vectors, collections without vectors, filters, limits, CRUD.

PYTHONPATH=. python eval/milvus/spikes/api_facts.py lite|server
"""

from __future__ import annotations

from _common import check, engine, kind_from_argv, unit_vectors
from pymilvus import DataType, MilvusClient

DIM = 384
kind = kind_from_argv()


def chunks_schema(client: MilvusClient, sparse: bool = False):
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=128)
    schema.add_field("text", DataType.VARCHAR, max_length=8192)
    schema.add_field("chunk_no", DataType.INT32)
    schema.add_field("published", DataType.INT64)
    schema.add_field("meta", DataType.JSON)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
    if sparse:
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    return schema


def rows(n: int, start: int = 0) -> list[dict]:
    vectors = unit_vectors(n, DIM, seed=start)
    return [
        {
            "id": start + i,
            "doc_id": f"doc{(start + i) // 10}",
            "text": f"第{start + i}段 新闻",
            "chunk_no": (start + i) % 10,
            "published": 1_700_000_000 + start + i,
            "meta": {"source": "cna" if i % 2 else "xinhua", "tags": ["a", "b"]},
            "dense": vectors[i].tolist(),
        }
        for i in range(n)
    ]


with engine(kind) as (uri, _pid):
    client = MilvusClient(uri, timeout=60)
    print(f"## {kind}: {uri}")
    check("get_server_version()", client.get_server_version)
    check("get_server_version(detail=True)", lambda: client.get_server_version(detail=True))
    check("get_server_type()", client.get_server_type)

    # --- explicit schema, FLAT/IP, all scalar types, Strong for deterministic reads below ---
    def create_chunks() -> str:
        index = client.prepare_index_params()
        index.add_index("dense", index_type="FLAT", metric_type="IP")
        client.create_collection("chunks", schema=chunks_schema(client), index_params=index, consistency_level="Strong")
        return str(client.get_load_state("chunks"))

    check("create explicit schema (INT64 pk, VARCHAR, INT32, INT64, JSON, FLOAT_VECTOR 384 IP)", create_chunks)
    data = rows(3000)
    check("insert 3000 rows", lambda: client.insert("chunks", data)["insert_count"])
    describe = client.describe_collection("chunks")
    check("describe: field types", lambda: [(f["name"], str(f["type"])) for f in describe["fields"]])
    check("describe: consistency_level", lambda: describe.get("consistency_level"))
    q = [data[42]["dense"]]
    check("search self top1 (FLAT)", lambda: client.search("chunks", q, limit=3, anns_field="dense")[0][0]["id"])
    check(
        "search output_fields + JSON",
        lambda: client.search("chunks", q, limit=1, output_fields=["doc_id", "chunk_no", "meta"])[0][0]["entity"],
    )

    # --- filters ---
    flt = {
        'doc_id == "doc4"': 'doc_id == "doc4"',
        'doc_id in ["doc4","doc7"]': 'doc_id in ["doc4", "doc7"]',
        'doc_id not in ["doc4"]': 'doc_id not in ["doc4"]',
        "id in [1,2,3]": "id in [1, 2, 3]",
        'meta["source"] == "cna"': 'meta["source"] == "cna"',
        "published > X and chunk_no < 3": "published > 1700002000 and chunk_no < 3",
        'text like "第4%"': 'text like "第4%"',
    }
    for label, expr in flt.items():
        check(
            f"search filter {label}",
            lambda expr=expr: sorted({h["entity"]["doc_id"] for h in client.search(
                "chunks", q, limit=20, filter=expr, output_fields=["doc_id"])[0]})[:5],
        )  # fmt: skip
    long_list = [f"doc{i}" for i in range(0, 300, 2)]  # 150 values
    check(
        "search filter doc_id in [150 values]",
        lambda: len(client.search("chunks", q, limit=50, filter=f"doc_id in {long_list}")[0]),
    )
    check(
        "search filter with template params {ids}",
        lambda: len(
            client.search("chunks", q, limit=50, filter="doc_id in {ids}", filter_params={"ids": long_list})[0]
        ),
    )

    # --- limits ---
    for limit in (16384, 16385):
        check(f"search limit={limit}", lambda limit=limit: len(client.search("chunks", q, limit=limit)[0]))
    check("search limit=10 offset=16375", lambda: len(client.search("chunks", q, limit=10, offset=16375)[0]))
    check("search limit=10 offset=16380", lambda: len(client.search("chunks", q, limit=10, offset=16380)[0]))
    check("query filter without limit (3000 rows)", lambda: len(client.query("chunks", filter="id >= 0")))
    check("query limit=16384", lambda: len(client.query("chunks", filter="id >= 0", limit=16384)))
    check("query limit=16385", lambda: len(client.query("chunks", filter="id >= 0", limit=16385)))
    check("query empty filter, limit=5", lambda: len(client.query("chunks", filter="", limit=5)))
    check("query count(*)", lambda: client.query("chunks", filter="", output_fields=["count(*)"]))
    check("query by ids=[1,2,99999]", lambda: [r["id"] for r in client.query("chunks", ids=[1, 2, 99999])])
    check("get ids=[5,6] output doc_id", lambda: client.get("chunks", ids=[5, 6], output_fields=["doc_id"]))
    check("get returns vector by default?", lambda: sorted(client.get("chunks", ids=[5])[0].keys()))

    def iterate_all() -> str:
        iterator = client.query_iterator("chunks", batch_size=1000, filter="", output_fields=["doc_id"])
        seen, batches = set(), 0
        for _ in range(100):  # bounded
            batch = iterator.next()
            if not batch:
                break
            batches += 1
            seen.update(r["id"] for r in batch)
        iterator.close()
        return f"{len(seen)} distinct rows in {batches} batches"

    check("query_iterator batch 1000 over 3000 rows", iterate_all)

    # --- delete / upsert ---
    check("delete ids=[0,1,2]", lambda: client.delete("chunks", ids=[0, 1, 2]))
    check('delete filter doc_id == "doc5"', lambda: client.delete("chunks", filter='doc_id == "doc5"'))
    check("count after deletes (Strong)", lambda: client.query("chunks", filter="", output_fields=["count(*)"]))
    changed = dict(data[100], text="changed")
    check("upsert id=100", lambda: client.upsert("chunks", [changed]))
    check("get id=100 after upsert", lambda: client.get("chunks", ids=[100], output_fields=["text"]))
    check(
        "upsert partial row (no dense)",
        lambda: client.upsert("chunks", [{"id": 101, "text": "x"}], partial_update=True),
    )

    # --- index types on the dense field ---
    idx_data = data[:2000]
    for index_type, params, search_params in [
        ("FLAT", {}, {}),
        ("IVF_FLAT", {"nlist": 64}, {"nprobe": 16}),
        ("IVF_SQ8", {"nlist": 64}, {"nprobe": 16}),
        ("HNSW", {"M": 16, "efConstruction": 200}, {"ef": 64}),
        ("IVF_PQ", {"nlist": 64, "m": 48, "nbits": 8}, {"nprobe": 16}),
        ("AUTOINDEX", {}, {}),
    ]:

        def try_index(index_type=index_type, params=params, search_params=search_params) -> str:
            name = f"idx_{index_type.lower()}"
            index = client.prepare_index_params()
            index.add_index("dense", index_type=index_type, metric_type="IP", params=params)
            client.create_collection(name, schema=chunks_schema(client), index_params=index)
            client.insert(name, idx_data)
            hits = client.search(
                name, [r["dense"] for r in idx_data[:50]], limit=1, search_params={"params": search_params},
                consistency_level="Strong",
            )  # fmt: skip
            self_recall = sum(h[0]["id"] == r["id"] for h, r in zip(hits, idx_data[:50])) / 50
            described = client.describe_index(name, "dense")
            client.drop_collection(name)
            return f"self-recall@1 {self_recall:.2f}; describe_index {described.get('index_type')} {described.get('params', '')}"

        check(f"index {index_type} {params} search {search_params}", try_index)

    # --- scalar index on VARCHAR ---
    for scalar in ("INVERTED", "Trie", "BITMAP"):

        def try_scalar(scalar=scalar) -> str:
            index = client.prepare_index_params()
            index.add_index("doc_id", index_type=scalar)
            client.create_index("chunks", index)
            listed = client.list_indexes("chunks")
            client.release_collection("chunks")
            client.drop_index("chunks", "doc_id")
            client.load_collection("chunks")
            return f"indexes {listed}"

        check(f"scalar index {scalar} on VARCHAR doc_id", try_scalar)

    # --- two vector fields: dense + sparse, and dense + dense ---
    def dense_and_sparse() -> str:
        index = client.prepare_index_params()
        index.add_index("dense", index_type="FLAT", metric_type="IP")
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        client.create_collection("both", schema=chunks_schema(client, sparse=True), index_params=index)
        two = rows(2)
        two[0]["sparse"], two[1]["sparse"] = {1: 0.5, 7: 1.0}, {7: 0.25, 9: 2.0}
        client.insert("both", two)
        dense_hit = client.search("both", [two[0]["dense"]], anns_field="dense", limit=1, consistency_level="Strong")
        sparse_hit = client.search("both", [{9: 1.0}], anns_field="sparse", limit=1, consistency_level="Strong")
        return f"dense top1 {dense_hit[0][0]['id']}, sparse top1 {sparse_hit[0][0]['id']}"

    check("collection with dense + sparse vector fields", dense_and_sparse)

    def two_dense() -> str:
        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("a", DataType.FLOAT_VECTOR, dim=4)
        schema.add_field("b", DataType.FLOAT_VECTOR, dim=4)
        index = client.prepare_index_params()
        index.add_index("a", index_type="FLAT", metric_type="IP")
        index.add_index("b", index_type="FLAT", metric_type="IP")
        client.create_collection("two_dense", schema=schema, index_params=index)
        return "created"

    check("collection with two FLOAT_VECTOR fields", two_dense)

    # --- sparse vectors: accepted term-id range ---
    def sparse_collection() -> str:
        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        index = client.prepare_index_params()
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP",
                        params={"inverted_index_algo": "DAAT_MAXSCORE"})  # fmt: skip
        client.create_collection("sparse", schema=schema, index_params=index, consistency_level="Strong")
        return "created"

    if check("create SPARSE_FLOAT_VECTOR + SPARSE_INVERTED_INDEX/IP", sparse_collection):
        for n, term in enumerate([0, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1, 2**32, -1]):

            def try_term(n=n, term=term) -> str:
                client.insert("sparse", [{"id": 1000 + n, "sparse": {term: 1.5, 5: 0.5}}])
                hit = client.search("sparse", [{term: 2.0}], anns_field="sparse", limit=1, output_fields=["sparse"])[0]
                if not hit:
                    return "inserted, query found nothing"
                return f"inserted; query {{term: 2.0}} -> id {hit[0]['id']} score {hit[0]['distance']:.2f} stored {hit[0]['entity']['sparse']}"

            check(f"sparse term id {term}", try_term)
        check("sparse empty row {}", lambda: client.insert("sparse", [{"id": 2000, "sparse": {}}]))
        check("sparse negative weight", lambda: client.insert("sparse", [{"id": 2001, "sparse": {3: -1.0}}]))
        check("sparse zero weight", lambda: client.insert("sparse", [{"id": 2002, "sparse": {3: 0.0}}]))
        check(
            "sparse numpy int keys",
            lambda: client.insert("sparse", [{"id": 2003, "sparse": {__import__("numpy").uint32(3): 1.0}}]),
        )

    # --- collections without a vector field, and the smallest dummy vector ---
    def no_vector() -> str:
        schema = client.create_schema(auto_id=False)
        schema.add_field("term", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("df", DataType.INT64)
        client.create_collection("terms_novec", schema=schema, consistency_level="Strong")
        client.insert("terms_novec", [{"term": "新闻", "df": 3}, {"term": "台北", "df": 1}])
        return f"query -> {client.query('terms_novec', filter='df > 0', output_fields=['df'])}"

    check("collection with no vector field (VARCHAR pk, INT64 df)", no_vector)
    for dim in (1, 2):

        def dummy(dim=dim) -> str:
            schema = client.create_schema(auto_id=False)
            schema.add_field("term", DataType.VARCHAR, is_primary=True, max_length=64)
            schema.add_field("df", DataType.INT64)
            schema.add_field("_v", DataType.FLOAT_VECTOR, dim=dim)
            index = client.prepare_index_params()
            index.add_index("_v", index_type="FLAT", metric_type="L2")
            client.create_collection(f"terms_dim{dim}", schema=schema, index_params=index, consistency_level="Strong")
            client.insert(f"terms_dim{dim}", [{"term": "新闻", "df": 3, "_v": [0.0] * dim}])
            client.upsert(f"terms_dim{dim}", [{"term": "新闻", "df": 4, "_v": [0.0] * dim}])
            return f"query -> {client.query(f'terms_dim{dim}', ids=['新闻'], output_fields=['df'])}"

        check(f"terms table with a dummy FLOAT_VECTOR dim={dim} (VARCHAR pk)", dummy)

    check("list_collections", client.list_collections)
    client.close()

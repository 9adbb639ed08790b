"""rag_eval.stages: each store call of a question's retrieval, counted and timed; a Milvus proxy's
latency metrics read from its text format."""

from __future__ import annotations

from rag import Assistant
from rag.store import open_store
from rag_eval.stages import STAGES, profile, server_totals

METRICS = """# HELP milvus_proxy_sq_latency latency of search or query
milvus_proxy_sq_latency_sum{node_id="1",query_type="search"} 120.5
milvus_proxy_sq_latency_count{node_id="1",query_type="search"} 3
milvus_proxy_sq_latency_sum{node_id="1",query_type="query"} 4.5
milvus_proxy_sq_latency_count{node_id="1",query_type="query"} 2
milvus_proxy_sq_latency_sum{node_id="1",query_type="insert"} 99
milvus_proxy_sq_latency_count{node_id="1",query_type="insert"} 7
"""


def test_server_totals_add_the_searches_and_queries_and_nothing_else(tmp_path):
    page = tmp_path / "metrics"
    page.write_text(METRICS)
    assert server_totals(page.as_uri()) == (125.0, 5)


def test_each_stage_is_counted_per_question_on_the_local_store(tiny):
    settings, encoder = tiny
    Assistant.load(settings, encoder=encoder)  # builds the index
    store = open_store(settings)
    store.refresh()
    stages = profile(store.view(), encoder, ["奥特曼回归了吗", "谁辞职了"], settings.retrieval)
    assert set(stages) <= set(STAGES.values())
    assert stages["chunk search (question + base vector)"]["calls"] == 1.0  # both vectors in one call
    assert stages["sentence search"]["calls"] == 1.0 and stages["BM25"]["calls"] == 1.0
    assert all(set(figures) == {"calls", "client_p50_ms"} for figures in stages.values())  # no server without metrics

"""The throw-away Milvus server's network (rag_eval.milvus_network): the server listens only inside its
private namespace, reached through ports forwarded from the host's 127.0.0.1, and nothing of it
outlives it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from processes_in import processes_in

pytest.importorskip("milvus", reason="the PyPI `milvus` server package is not installed")
pytest.importorskip("pymilvus")

pytestmark = [pytest.mark.milvus, pytest.mark.milvus_server]

if os.geteuid() != 0:
    pytest.skip("the server runs in a private network namespace, which needs root", allow_module_level=True)


def _listening(pid: int) -> list[str]:
    """Local addresses that ``pid`` listens on, as `ss` shows them in our namespace."""
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    return [line.split()[3] for line in out.splitlines() if f"pid={pid}," in line]


def test_server_starts_serves_and_leaves_nothing_behind(tmp_path: Path) -> None:
    from pymilvus import DataType, MilvusClient

    from rag_eval.milvus_server import MilvusServerProcess

    data = tmp_path / "milvus"
    server = MilvusServerProcess(data, timeout_s=120)
    before = set(_listening(os.getpid()))  # other tests' servers in this process may still listen
    with server as uri:
        assert uri.startswith("http://127.0.0.1:")
        pid = server.pid
        assert pid is not None and pid in processes_in(data)
        # Only our forwarded loopback ports are visible here; the server's are in its namespace.
        forwarded = set(_listening(os.getpid())) - before
        assert forwarded and all(address.startswith("127.0.0.1:") for address in forwarded)
        assert _listening(pid) == []

        client = MilvusClient(uri, timeout=30)
        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=4)
        index = client.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="IP")
        client.create_collection("chunks", schema=schema, index_params=index, consistency_level="Strong")
        rows = [{"id": i, "doc_id": f"d{i % 3}", "vector": [1.0, i / 10, 0.0, 0.0]} for i in range(10)]
        assert client.insert("chunks", rows)["insert_count"] == 10
        hits = client.search(
            "chunks", data=[[0.0, 1.0, 0.0, 0.0]], limit=3, filter='doc_id == "d0"', output_fields=["doc_id"]
        )[0]
        assert [hit["id"] for hit in hits] == [9, 6, 3]
        assert {hit["entity"]["doc_id"] for hit in hits} == {"d0"}
        client.close()

    assert server.proc is not None and server.proc.returncode is not None
    assert set(_listening(os.getpid())) == before
    assert processes_in(data) == []
    assert not Path(f"/proc/{pid}").exists()
    assert data.is_dir()  # a given data directory is kept

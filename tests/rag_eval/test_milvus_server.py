"""The throw-away Milvus server for tests and benchmarks (rag_eval.milvus_server): its data folder and
its port, taken before anything starts."""

from __future__ import annotations

import os

import pytest
from processes_in import processes_in

pytest.importorskip("milvus", reason="the PyPI `milvus` server package is not installed")
pytest.importorskip("pymilvus")

pytestmark = [pytest.mark.milvus, pytest.mark.milvus_server]

if os.geteuid() != 0:
    pytest.skip("the server runs in a private network namespace, which needs root", allow_module_level=True)


def test_temporary_data_is_removed_and_port_conflict_is_reported() -> None:
    from rag_eval.milvus_server import MilvusServerError, MilvusServerProcess

    server = MilvusServerProcess(timeout_s=120)
    with server as uri:
        base = server.base_dir
        assert base is not None and base.is_dir()
        port = int(uri.rsplit(":", 1)[1])
        with pytest.raises(MilvusServerError, match="already in use"):
            MilvusServerProcess(port=port).start()  # fails before spawning anything
    assert not base.exists()
    assert processes_in(base) == []

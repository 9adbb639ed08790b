"""One Milvus 2.3 server for the store tests of a session (``-m milvus_server``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def milvus_uri() -> Iterator[str]:
    pytest.importorskip("milvus", reason="the PyPI `milvus` server package is not installed")
    if os.geteuid() != 0:
        pytest.skip("the Milvus test server runs in a private network namespace, which needs root")
    from rag_eval.milvus_server import MilvusServerProcess

    with MilvusServerProcess(timeout_s=120) as uri:
        yield uri

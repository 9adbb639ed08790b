"""The store tests' fixtures: one Milvus 2.3 server for a session (``-m milvus_server``), and the
store contract's collection on each engine with its twin in local files (``tests/store_engines.py``)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_engines import ENGINES, Engine, engine_settings

from rag.store import open_store

_serial = itertools.count()


@pytest.fixture(scope="session")
def milvus_uri() -> Iterator[str]:
    pytest.importorskip("milvus", reason="the PyPI `milvus` server package is not installed")
    if os.geteuid() != 0:
        pytest.skip("the Milvus test server runs in a private network namespace, which needs root")
    from rag_eval.milvus_server import MilvusServerProcess

    with MilvusServerProcess(timeout_s=120) as uri:
        yield uri


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A collection of the two articles on one engine. Its name holds a '-' (escaped in Milvus names)
    and is new on the shared server."""
    store = None if request.param == "local" else str(tmp_path / "store.db") if request.param == "lite" else request.getfixturevalue("milvus_uri")
    engine = Engine(request.param, engine_settings(tmp_path / "project", store, f"c{os.getpid()}-{next(_serial)}"))
    yield engine
    engine.close()
    if engine.name == "server":
        store = open_store(engine.settings)
        store.drop()
        store.close()


@pytest.fixture()
def local_twin(tmp_path: Path) -> Engine:
    """The same collection in local files: the reference the others must equal."""
    return Engine("local", engine_settings(tmp_path / "twin", None, "twin"))

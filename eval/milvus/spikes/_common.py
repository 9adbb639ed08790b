"""Shared by the spikes: open either engine, and print one line per checked fact.

PYTHONPATH=. python eval/milvus/spikes/<spike>.py lite|server
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pymilvus  # noqa: F401  (configures its loggers on import; quieted below)

# pymilvus logs every failed RPC with a traceback at ERROR: the spikes print outcomes themselves.
for name in ("pymilvus", "pymilvus.decorators", "milvus_lite"):
    logging.getLogger(name).setLevel(logging.CRITICAL)


@contextlib.contextmanager
def engine(kind: str) -> Iterator[tuple[str, int]]:
    """(uri, pid of the engine's process, for its RSS) for "lite" or "server"."""
    if kind == "lite":
        with tempfile.TemporaryDirectory(prefix="lite-spike-") as tmp:
            path = str(Path(tmp) / "spike.db")
            try:
                yield path, os.getpid()
            finally:
                release_lite(path)
    elif kind == "server":
        from rag_eval.milvus_server import MilvusServerProcess

        server = MilvusServerProcess(timeout_s=180)
        with server as uri:
            assert server.pid is not None
            yield uri, server.pid
    else:
        raise SystemExit(f"engine kind must be lite or server, not {kind!r}")


def release_lite(path: str) -> None:
    """Stop Lite's in-process engine for `path` now: otherwise it is stopped at interpreter exit,
    after a temporary directory was removed, and writes the .db directory back."""
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(path)


def check(name: str, fn: Callable[[], object]) -> object:
    """Runs fn, prints `name: result` or `name: FAILS <type>: <message>` with the time taken."""
    started = time.perf_counter()
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001  (the failure is the fact being recorded)
        took = time.perf_counter() - started
        message = " ".join(str(exc).split())[:300]
        print(f"- {name}: FAILS after {took:.2f} s: {type(exc).__module__}.{type(exc).__name__}: {message}", flush=True)
        if os.environ.get("SPIKE_TRACEBACK"):
            traceback.print_exc()
        return None
    took = time.perf_counter() - started
    print(f"- {name}: {result} ({took:.2f} s)", flush=True)
    return result


def unit_vectors(n: int, dim: int = 384, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def kind_from_argv() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else "lite"

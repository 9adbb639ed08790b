"""Milvus Lite 3.x after kill -9: what survives, and is load_collection needed on reopen?

PYTHONPATH=. python eval/milvus/spikes/lite_restart.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import release_lite
from pymilvus import MilvusClient

WRITER = """
import os, signal, sys
import numpy as np
from pymilvus import MilvusClient
c = MilvusClient(sys.argv[1])
c.create_collection("flushed", dimension=8, consistency_level="Strong")
c.create_collection("unflushed", dimension=8, consistency_level="Strong")
rng = np.random.default_rng(0)
rows = [{"id": i, "vector": rng.random(8).tolist()} for i in range(5000)]
c.insert("flushed", rows); c.flush("flushed")
c.insert("unflushed", rows)        # only in the WAL and the memtable
c.delete("unflushed", ids=[0, 1])
c.upsert("unflushed", [{"id": 2, "vector": [9.0] * 8}])
c.release_collection("flushed")    # released by the user before the crash
c.load_collection("flushed")
print("written", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""

with tempfile.TemporaryDirectory() as tmp:
    db = str(Path(tmp) / "crash.db")
    run = subprocess.run([sys.executable, "-c", WRITER, db], check=False, capture_output=True, text=True, timeout=300)
    print(f"- writer: {run.stdout.strip()!r}, exit {run.returncode}")
    started = time.perf_counter()
    client = MilvusClient(db)
    print(f"- reopen after kill -9: {time.perf_counter() - started:.2f} s; collections {client.list_collections()}")
    for name in ("flushed", "unflushed"):
        print(f"  - {name}: load state on reopen {client.get_load_state(name)}")
        for what, call in (
            ("query", lambda name=name: client.query(name, filter="", output_fields=["count(*)"])),
            ("search", lambda name=name: client.search(name, [[0.5] * 8], limit=1, output_fields=["id"])),
        ):
            try:
                print(f"    {what} before load_collection: {call()}")
            except Exception as exc:  # noqa: BLE001  (the failure is what is recorded)
                print(
                    f"    {what} before load_collection FAILS: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
                )
        started = time.perf_counter()
        client.load_collection(name)
        took = time.perf_counter() - started
        count = client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]
        upserted = client.get(name, ids=[2])[0]["vector"][0]
        deleted = [row["id"] for row in client.get(name, ids=[0, 1])]
        print(
            f"    load_collection {took:.2f} s; rows {count}; id 2 vector[0] {upserted:.1f}; ids 0,1 present: {deleted}"
        )
    client.close()
    release_lite(db)

"""The processes found through /proc whose working directory is inside a folder: what a Milvus
server started there left running (``tests/rag_eval/test_milvus_server.py``, ``test_milvus_network.py``)."""

from __future__ import annotations

import os
from pathlib import Path


def processes_in(directory: Path) -> list[int]:
    """Pids whose working directory is inside ``directory`` (the server runs there)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cwd = Path(os.readlink(entry / "cwd"))
            except OSError:
                continue
            if cwd == directory or directory in cwd.parents:
                pids.append(int(entry.name))
    return pids

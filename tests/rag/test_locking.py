"""One writer at a time across processes: a second writer waits, then gives up saying why; the kernel
frees the lock of a process that dies."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from rag.errors import IndexBusyError
from rag.locking import writer_lock

HOLD = "import sys, time; from rag.locking import writer_lock\nwith writer_lock(__import__('pathlib').Path(sys.argv[1]), 1, 'x'):\n    print('held', flush=True); time.sleep(60)"


def test_a_second_writer_waits_then_says_another_process_is_changing_it(tmp_path):
    lock = tmp_path / "index" / "LOCK"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        began = time.monotonic()
        with pytest.raises(IndexBusyError, match=r"another process is changing the news collection \(waited 0 s for it\)"):
            with writer_lock(lock, 0.3, "the news collection"):
                pass
        assert time.monotonic() - began >= 0.3
    finally:
        holder.kill()
        holder.wait()
    with writer_lock(lock, 0.3, "the news collection"):  # the dead holder's lock is gone with it
        pass


def test_the_lock_is_released_when_its_block_ends_even_by_an_error(tmp_path):
    lock = tmp_path / "LOCK"
    with pytest.raises(ValueError):
        with writer_lock(lock, 0, "x"):
            raise ValueError("the write failed")
    with writer_lock(lock, 0, "x"):  # taken again at once
        pass

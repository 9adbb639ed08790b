"""rag_ui.admission: a pool and a line per kind of call, and "busy" at once beyond them; against a real
server, writes stuck behind another process's writer lock never hold up questions (issue 23)."""

from __future__ import annotations

import asyncio
import fcntl
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest

from rag import Assistant
from rag_ui.admission import Admission, ServerBusyError

# `make test-fast` runs on two processes: the tests that serve in this process (Gradio loads in seconds) share one
pytestmark = pytest.mark.xdist_group("web")


def test_beyond_the_running_and_the_waiting_calls_the_next_is_refused_at_once():
    admission = Admission("writes", running=1, waiting=1, retry_after_s=7)
    gate = threading.Event()

    async def scenario() -> list[object]:
        first = asyncio.ensure_future(admission.run(gate.wait))
        second = asyncio.ensure_future(admission.run(lambda: "second"))
        await asyncio.sleep(0.05)
        with pytest.raises(ServerBusyError) as refused:
            await admission.run(lambda: "third")
        assert refused.value.retry_after_s == 7 and "busy" in str(refused.value)
        gate.set()
        done = await asyncio.gather(first, second)
        return [*done, await admission.run(lambda: "again")]  # the slots are free once the calls are done

    assert asyncio.run(scenario()) == [True, "second", "again"]
    admission.close()


def test_a_slot_is_held_until_the_work_ends_even_when_its_caller_stops_waiting():
    admission = Admission("writes", running=1, waiting=0, retry_after_s=1)
    gate = threading.Event()

    async def scenario() -> None:
        caller = asyncio.ensure_future(admission.run(gate.wait))
        await asyncio.sleep(0.05)
        caller.cancel()  # the client went away; the write itself still runs
        await asyncio.sleep(0.05)
        with pytest.raises(ServerBusyError):
            await admission.run(lambda: None)
        gate.set()
        await asyncio.sleep(0.1)
        assert await admission.run(lambda: "free") == "free"

    asyncio.run(scenario())
    admission.close()


@pytest.fixture()
def locked_server(tmp_path):
    from fakes import FakeEncoder

    from rag import ChunkSettings, Settings
    from rag_ui.server import start

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("OpenAI这轮融资后估值将达到1500亿美元。米拉·穆拉蒂宣布离职。", encoding="utf-8")
    settings = Settings(root=tmp_path, cache_dir=tmp_path / "cache", store=None, chunk=ChunkSettings(size=40, overlap=10), lock_timeout_s=60)
    running = start(Assistant.load(settings, encoder=FakeEncoder()))
    yield running, tmp_path / "index" / "news" / "LOCK"
    running.close()


def test_writes_queued_behind_a_held_writer_lock_leave_questions_alone(locked_server):
    from rag_ui.server import WRITES

    running, lock_file = locked_server
    admitted = WRITES["running"] + WRITES["waiting"]
    with lock_file.open("a") as lock, httpx.Client(base_url=running.url, timeout=120) as client, ThreadPoolExecutor(50) as pool:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a long `rag add` in another process holds it
        deletes = [pool.submit(client.delete, f"/api/v1/documents/999_{n:016x}") for n in range(50)]
        done = until_done(deletes, 50 - admitted, timeout_s=5)  # the refused ones answer at once; the admitted wait for the lock
        refused = [future.result() for future in done]
        assert len(refused) == 50 - admitted and all(r.status_code == 503 and r.headers["retry-after"] for r in refused)
        assert all(r.json()["error"]["type"] == "ServerBusyError" for r in refused)
        for _ in range(10):  # the admitted writes still wait for the lock; questions do not wait for them
            answer = client.post("/api/v1/ask", json={"question": "估值多少?"})
            assert answer.status_code == 200 and answer.json()["passages"]
        assert client.get("/api/v1/health").status_code == 200
        assert sum(not future.done() for future in deletes) == admitted
        fcntl.flock(lock, fcntl.LOCK_UN)
        statuses = sorted(future.result(timeout=60).status_code for future in deletes)
    assert statuses == [404] * admitted + [503] * (50 - admitted)  # unknown ids, once the lock was free


def until_done(futures: list[Future], count: int, timeout_s: float) -> set[Future]:
    """The futures done once ``count`` of them are (or ``timeout_s`` has passed): the refused calls'
    window, without waiting it out (the calls admitted never finish while the lock is held)."""
    deadline = time.monotonic() + timeout_s
    while sum(future.done() for future in futures) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return {future for future in futures if future.done()}

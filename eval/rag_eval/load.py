"""A load probe: many clients asking over HTTP while articles are uploaded and removed (``rag-eval load``,
``make load``). Loopback only, bounded in count and time.

A copy of the project (corpus and index) is served by ``rag serve`` in a child process on a free
port of 127.0.0.1, in four phases:
1. **cold**: the moment the server answers, ``clients`` clients ask an English-heavy mix at once; the
   same mix again once warm. Their p95s compare (a table built on first use stalled every English
   question of a fresh server: issue 23).
2. **mixed**: one client asks questions one after another (the serial throughput); then ``clients``
   threads ask ``questions`` questions between them while a writer uploads and removes articles.
3. **queued writes**: the probe holds the collection's writer lock (as a long ``rag add`` in another
   process does) and sends 50 deletes at once; questions are timed meanwhile against the same
   questions without them, and the refused writes by how long their 503 took. A request declaring
   a 10¹²-byte body is timed to its 413.
4. **collections**: two more collections are asked and uploaded to, on their own and then while the
   server builds a third from articles copied into its folder (``rag_eval.load_collections``): no
   errors, no lost documents, and their questions must not wait for the third.
Every answer is checked (an HTTP 200 with passages, offsets inside their document); any error fails
the probe.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from rag import Settings
from rag_eval import load_collections
from rag_eval.load_clients import QUESTION_TIMEOUT_S, article, ask_all, durations, english_heavy, gold_questions, percentile
from rag_eval.paths import reports_dir, write_whole

TARGETS = {"errors": 0, "p95_s": 1.0, "throughput_over_serial": 0.8, "cold_over_warm_p95": 2.0, "queued_over_unloaded_p95": 2.0,
           "refusal_s": 1.0, "oversized_s": 0.1}  # fmt: skip
QUEUED_WRITES = 50


@dataclass(frozen=True)
class ColdStart:
    """The same English-heavy mix asked by many clients the moment a server answers, and once warm."""

    questions: int
    english: int
    cold_p95_s: float
    warm_p95_s: float

    @property
    def ratio(self) -> float:
        return round(self.cold_p95_s / self.warm_p95_s, 2) if self.warm_p95_s else 0.0


@dataclass(frozen=True)
class QueuedWrites:
    """Questions while ``writes`` deletes wait behind a held writer lock, against the same without them."""

    writes: int
    refused: int  # answered 503 at once
    slowest_refusal_s: float
    unloaded_p95_s: float
    queued_p95_s: float
    oversized_s: float  # a request declaring a 10^12-byte body, to its 413

    @property
    def ratio(self) -> float:
        return round(self.queued_p95_s / self.unloaded_p95_s, 2) if self.unloaded_p95_s else 0.0


@dataclass(frozen=True)
class LoadResult:
    clients: int
    questions: int
    errors: list[str]
    p50_s: float
    p95_s: float
    p99_s: float
    throughput_qps: float
    serial_qps: float
    throughput_over_serial: float
    uploads: int
    removals: int
    peak_rss_mb: float
    seconds: float
    cold: ColdStart
    queued: QueuedWrites
    collections: load_collections.Collections


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024


def run(clients: int = 20, questions: int = 200, uploads: int = 4, serial: int = 30, archive: int | None = None) -> LoadResult:
    """``archive``: articles of the collection built in the collections phase (by default one a question:
    the run's size scales the build with the questions)."""
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="rag-load-") as root:
        shutil.copytree(settings.corpus_dir, Path(root) / "corpus")
        shutil.copytree(settings.index_dir, Path(root) / "index" / settings.collection, ignore=shutil.ignore_patterns("LOCK", ".staging-*"))
        port = _free_port()
        log = Path(root) / "server.log"  # a file, not a pipe: nobody reads a pipe while it runs, and a full one would stall it
        with log.open("wb") as stderr:
            server = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port)],
                                      env={**os.environ, "RAG_HOME": root}, stdout=subprocess.DEVNULL, stderr=stderr)  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_up(url, server, log)
            errors: list[str] = []
            cold = _cold_start(url, clients, errors)
            mixed = _probe(url, server.pid, clients, questions, uploads, serial, errors)
            queued = _queued_writes(url, Path(root) / "index" / settings.collection / "LOCK", clients, errors)
            collections = load_collections.run(url, Path(root), clients, questions, uploads, archive or questions, errors)
            return LoadResult(**mixed, errors=errors, cold=cold, queued=queued, collections=collections, peak_rss_mb=round(_peak_rss_mb(server.pid)))
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


def _cold_start(url: str, clients: int, errors: list[str]) -> ColdStart:
    mix = english_heavy(clients * 2)
    cold = durations(ask_all(url, mix, clients, errors, "cold "))
    warm = durations(ask_all(url, mix, clients, errors, "warm "))
    english = sum(question.isascii() for question in mix)
    return ColdStart(len(mix), english, percentile(cold, 0.95), percentile(warm, 0.95))


def _queued_writes(url: str, lock_file: Path, clients: int, errors: list[str]) -> QueuedWrites:
    asked = gold_questions(clients * 2)
    unloaded = durations(ask_all(url, asked, clients, errors, "unloaded "))
    refusals: list[float] = []
    with lock_file.open("a") as lock, httpx.Client(base_url=url, timeout=300) as client:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a long `rag add` in another process holds it
        try:
            def delete(number: int) -> None:
                begin = time.perf_counter()
                response = client.delete(f"/api/v1/documents/999_{number:016x}")
                if response.status_code == 503:
                    refusals.append(time.perf_counter() - begin)

            writers = [threading.Thread(target=delete, args=(n,)) for n in range(QUEUED_WRITES)]
            for writer in writers:
                writer.start()
            time.sleep(1.0)  # the refused ones have their answer; the admitted ones wait for the lock
            queued = durations(ask_all(url, asked, clients, errors, "queued "))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
        for writer in writers:
            writer.join(timeout=300)
    return QueuedWrites(QUEUED_WRITES, len(refusals), round(max(refusals, default=0.0), 3), percentile(unloaded, 0.95),
                        percentile(queued, 0.95), _oversized(url))  # fmt: skip


def _oversized(url: str) -> float:
    """Seconds from sending the headers of a request that declares 10^12 bytes to its 413."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        begin = time.perf_counter()
        raw.sendall(b"POST /api/v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n{")
        answer = raw.recv(4096)
        seconds = time.perf_counter() - begin
    return round(seconds, 4) if b" 413 " in answer.split(b"\r\n", 1)[0] else float("inf")


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"rag serve exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError(f"rag serve did not answer within {timeout_s:.0f} s")


def _probe(url: str, pid: int, clients: int, count: int, uploads: int, serial: int, errors: list[str]) -> dict[str, object]:
    asked = gold_questions(count)
    with httpx.Client(base_url=url, timeout=QUESTION_TIMEOUT_S) as client:
        for question in asked[:5]:  # warm up: caches, first-use paths
            client.post("/api/v1/ask", json={"question": question + " ", "top_k": 5})
        started = time.perf_counter()
        for question in asked[5 : 5 + serial]:
            client.post("/api/v1/ask", json={"question": question, "top_k": 5})
        serial_qps = serial / (time.perf_counter() - started)

    writes = {"uploads": 0, "removals": 0}

    def write_some() -> None:
        with httpx.Client(base_url=url, timeout=300) as client:
            for number in range(uploads):
                name, data = article(number)
                response = client.post("/api/v1/documents", files=[("files", (name, data, "text/plain"))])
                if response.status_code != 200:
                    errors.append(f"upload HTTP {response.status_code}: {response.text[:200]}")
                    continue
                writes["uploads"] += 1
                if number % 2 == 0:  # every other one is removed again
                    removed = client.delete(f"/api/v1/documents/{response.json()[0]['document']['id']}")
                    if removed.status_code != 200:
                        errors.append(f"remove HTTP {removed.status_code}: {removed.text[:200]}")
                    else:
                        writes["removals"] += 1

    writer = threading.Thread(target=write_some)
    started = time.perf_counter()
    writer.start()
    latencies = durations(ask_all(url, asked, clients, errors))
    writer.join(timeout=900)
    seconds = time.perf_counter() - started
    throughput = len(latencies) / seconds
    return {"clients": clients, "questions": len(latencies), "p50_s": round(statistics.median(latencies), 3) if latencies else 0.0,
            "p95_s": percentile(latencies, 0.95), "p99_s": percentile(latencies, 0.99), "throughput_qps": round(throughput, 2),
            "serial_qps": round(serial_qps, 2), "throughput_over_serial": round(throughput / serial_qps, 2), "uploads": writes["uploads"],
            "removals": writes["removals"], "seconds": round(seconds, 1)}  # fmt: skip


def markdown(result: LoadResult) -> str:
    verdict = {True: "met", False: "**missed**"}
    cold, queued = result.cold, result.queued
    rows = [
        ("errors", str(len(result.errors)), "0", verdict[not result.errors]),
        ("p50 / p95 / p99 per question", f"{result.p50_s} / **{result.p95_s}** / {result.p99_s} s", "p95 ≤ 1 s", verdict[result.p95_s <= 1.0]),
        ("throughput / one client asking serially", f"{result.throughput_qps} / {result.serial_qps} q/s = **{result.throughput_over_serial}×**",
         "≥ 0.8×", verdict[result.throughput_over_serial >= 0.8]),
        (f"cold server, {cold.questions} questions ({cold.english} English) from {result.clients} clients: p95 cold / warm",
         f"{cold.cold_p95_s} / {cold.warm_p95_s} s = **{cold.ratio}×**", "≤ 2×", verdict[cold.ratio <= TARGETS["cold_over_warm_p95"]]),
        (f"questions while {queued.writes} deletes wait behind a held writer lock: p95 with / without them",
         f"{queued.queued_p95_s} / {queued.unloaded_p95_s} s = **{queued.ratio}×**", "≤ 2×", verdict[queued.ratio <= TARGETS["queued_over_unloaded_p95"]]),
        ("writes beyond the queue: refused with 503, slowest refusal", f"{queued.refused} of {queued.writes}, **{queued.slowest_refusal_s} s**",
         "≤ 1 s", verdict[0 < queued.refused and queued.slowest_refusal_s <= TARGETS["refusal_s"]]),
        ("a request declaring 10¹² bytes: to its 413", f"**{queued.oversized_s} s**", "≤ 0.1 s", verdict[queued.oversized_s <= TARGETS["oversized_s"]]),
        *load_collections.rows(result.collections, result.clients),
        ("server peak RSS", f"{result.peak_rss_mb} MB", "", ""),
    ]  # fmt: skip
    lines = [
        "# Load probe", "",
        f"`rag-eval load` (`make load`): {result.questions} questions from {result.clients} clients over the HTTP API of `rag serve` "
        f"on 127.0.0.1, while {result.uploads} articles were uploaded and {result.removals} removed again; {result.seconds} s in all. "
        "Before it, the same clients ask an English-heavy mix the moment the server answers, and again once warm; after it, 50 deletes "
        "are queued behind the collection's writer lock, held by the probe as another process would. "
        f"Last, two copies of the collection are asked (gold questions, alternately) while {result.collections.uploads} articles are "
        f"uploaded to them in turn, first on their own, then while the server builds a third collection from {result.collections.archive} "
        f"articles copied into its folder (its first question builds it: {result.collections.build_s} s). "
        "Every answer is checked (HTTP 200, passage offsets consistent).", "",
        "| figure | measured | target | |", "|---|---|---|---|", *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
    ]  # fmt: skip
    if result.errors:
        lines += ["", "Errors:", *(f"- {error}" for error in result.errors[:20])]
    return "\n".join(lines) + "\n"


def write(result: LoadResult, directory: Path | None = None) -> None:
    directory = directory or reports_dir()
    write_whole(directory / "load.json", json.dumps(asdict(result), ensure_ascii=False, indent=2).encode() + b"\n")
    write_whole(directory / "load.md", markdown(result).encode())

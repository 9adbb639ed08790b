"""A load probe: many clients asking over HTTP while articles are uploaded and removed (``rag-eval load``,
``make load``). Loopback only, bounded in count and time.

A copy of the project (corpus and index) is served by ``rag serve`` in a child process on a free
port of 127.0.0.1. First one client asks the questions one after another (the serial throughput);
then ``clients`` threads ask ``questions`` questions between them while a writer uploads and removes
articles through the API. Every answer is checked (an HTTP 200 with passages, offsets inside their
document); any error fails the probe.
"""

from __future__ import annotations

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
from rag_eval.paths import gold_file, reports_dir, write_whole

TARGETS = {"errors": 0, "p95_s": 1.0, "throughput_over_serial": 0.8}
QUESTION_TIMEOUT_S = 60.0


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

    @property
    def ok(self) -> bool:
        return not self.errors and self.p95_s <= TARGETS["p95_s"] and self.throughput_over_serial >= TARGETS["throughput_over_serial"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024


def _questions(count: int) -> list[str]:
    rows = [json.loads(line) for line in gold_file().read_text(encoding="utf-8").splitlines() if line.strip()]
    return [rows[i % len(rows)]["question"] for i in range(count)]


def _check(response: httpx.Response) -> str | None:
    """None for a good answer, else what was wrong with it."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    answer = response.json()
    for passage in answer["passages"]:
        if not 0 <= passage["start"] < passage["end"] or len(passage["text"]) != passage["end"] - passage["start"]:
            return f"passage offsets do not fit its text: {passage['doc_id']} {passage['start']}-{passage['end']}"
    return None


def _article(number: int) -> tuple[str, bytes]:
    text = f"负载测试新闻第{number}号。\n" + "".join(f"测试公司第{i}季度营收{i * 7 + number}亿元,同比增长{i + 1}%。" for i in range(40))
    return f"load-{number}.txt", text.encode()


def run(clients: int = 20, questions: int = 200, uploads: int = 4, serial: int = 30) -> LoadResult:
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="rag-load-") as root:
        shutil.copytree(settings.corpus_dir, Path(root) / "corpus")
        shutil.copytree(settings.index_dir, Path(root) / "index" / settings.collection, ignore=shutil.ignore_patterns("LOCK", ".staging-*"))
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port)],
                                  env={**os.environ, "RAG_HOME": root}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_up(url, server)
            return _probe(url, server.pid, clients, questions, uploads, serial)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


def _wait_until_up(url: str, server: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"rag serve exited: {server.stderr.read().decode()[-2000:] if server.stderr else ''}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError(f"rag serve did not answer within {timeout_s:.0f} s")


def _probe(url: str, pid: int, clients: int, count: int, uploads: int, serial: int) -> LoadResult:
    asked = _questions(count)
    with httpx.Client(base_url=url, timeout=QUESTION_TIMEOUT_S) as client:
        for question in asked[:5]:  # warm up: caches, first-use paths
            client.post("/api/v1/ask", json={"question": question + " ", "top_k": 5})
        started = time.perf_counter()
        for question in asked[5 : 5 + serial]:
            client.post("/api/v1/ask", json={"question": question, "top_k": 5})
        serial_qps = serial / (time.perf_counter() - started)

    errors: list[str] = []
    latencies: list[float] = []
    lock = threading.Lock()
    queue = iter(list(enumerate(asked)))
    writes = {"uploads": 0, "removals": 0}

    def ask_many() -> None:
        with httpx.Client(base_url=url, timeout=QUESTION_TIMEOUT_S) as client:
            while True:
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                number, question = item
                begin = time.perf_counter()
                try:
                    problem = _check(client.post("/api/v1/ask", json={"question": f"{question} ({number})", "top_k": 5}))
                except httpx.HTTPError as error:
                    problem = f"{type(error).__name__}: {error}"
                with lock:
                    latencies.append(time.perf_counter() - begin)
                    if problem:
                        errors.append(problem)

    def write_some() -> None:
        with httpx.Client(base_url=url, timeout=300) as client:
            for number in range(uploads):
                name, data = _article(number)
                response = client.post("/api/v1/documents", files=[("files", (name, data, "text/plain"))])
                if response.status_code != 200:
                    with lock:
                        errors.append(f"upload HTTP {response.status_code}: {response.text[:200]}")
                    continue
                writes["uploads"] += 1
                if number % 2 == 0:  # every other one is removed again
                    removed = client.delete(f"/api/v1/documents/{response.json()[0]['document']['id']}")
                    if removed.status_code != 200:
                        with lock:
                            errors.append(f"remove HTTP {removed.status_code}: {removed.text[:200]}")
                    else:
                        writes["removals"] += 1

    threads = [threading.Thread(target=ask_many) for _ in range(clients)] + [threading.Thread(target=write_some)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)
    seconds = time.perf_counter() - started
    if any(thread.is_alive() for thread in threads):
        errors.append("the probe did not finish within 900 s")
    ordered = sorted(latencies)

    def percentile(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3) if ordered else 0.0

    throughput = len(latencies) / seconds
    return LoadResult(
        clients=clients, questions=len(latencies), errors=errors, p50_s=round(statistics.median(ordered), 3) if ordered else 0.0,
        p95_s=percentile(0.95), p99_s=percentile(0.99), throughput_qps=round(throughput, 2), serial_qps=round(serial_qps, 2),
        throughput_over_serial=round(throughput / serial_qps, 2), uploads=writes["uploads"], removals=writes["removals"],
        peak_rss_mb=round(_peak_rss_mb(pid)), seconds=round(seconds, 1),
    )  # fmt: skip


def markdown(result: LoadResult) -> str:
    verdict = {True: "met", False: "**missed**"}
    rows = [
        ("errors", str(len(result.errors)), "0", verdict[not result.errors]),
        ("p50 / p95 / p99 per question", f"{result.p50_s} / **{result.p95_s}** / {result.p99_s} s", "p95 ≤ 1 s", verdict[result.p95_s <= 1.0]),
        ("throughput / one client asking serially", f"{result.throughput_qps} / {result.serial_qps} q/s = **{result.throughput_over_serial}×**",
         "≥ 0.8×", verdict[result.throughput_over_serial >= 0.8]),
        ("server peak RSS", f"{result.peak_rss_mb} MB", "", ""),
    ]  # fmt: skip
    lines = [
        "# Load probe", "",
        f"`rag-eval load` (`make load`): {result.questions} questions from {result.clients} clients over the HTTP API of `rag serve` "
        f"on 127.0.0.1, while {result.uploads} articles were uploaded and {result.removals} removed again; {result.seconds} s in all. "
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

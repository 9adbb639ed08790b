"""The load probe's clients (``rag_eval.load``, ``rag_eval.load_collections``): the questions they
ask, many clients asking at once over HTTP, the check every answer gets, and percentiles."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from rag_eval.paths import gold_file

QUESTION_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Asked:
    """One question: when it was sent (``time.perf_counter``) and how long its answer took."""

    started: float
    seconds: float

    @property
    def answered(self) -> float:
        return self.started + self.seconds


def _gold_rows() -> list[dict[str, object]]:
    return [json.loads(line) for line in gold_file().read_text(encoding="utf-8").splitlines() if line.strip()]


def gold_questions(count: int) -> list[str]:
    rows = _gold_rows()
    return [str(rows[i % len(rows)]["question"]) for i in range(count)]


def english_heavy(count: int) -> list[str]:
    """Three English questions in four (English questions are the ones the glossary serves)."""
    rows = _gold_rows()
    english = [str(row["question"]) for row in rows if row["lang"] == "en"]
    chinese = [str(row["question"]) for row in rows if row["lang"] != "en"]
    return [english[i % len(english)] if i % 4 else chinese[i % len(chinese)] for i in range(count)]


def check(response: httpx.Response) -> str | None:
    """None for a good answer, else what was wrong with it."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    answer = response.json()
    for passage in answer["passages"]:
        if not 0 <= passage["start"] < passage["end"] or len(passage["text"]) != passage["end"] - passage["start"]:
            return f"passage offsets do not fit its text: {passage['doc_id']} {passage['start']}-{passage['end']}"
    return None


def article(number: int) -> tuple[str, bytes]:
    """An article to upload, its text unlike any other number's (a collection refuses a second copy)."""
    text = f"负载测试新闻第{number}号。\n" + "".join(f"测试公司第{i}季度营收{i * 7 + number}亿元,同比增长{i + 1}%。" for i in range(40))
    return f"load-{number}.txt", text.encode()


def ask_all(url: str, asked: Sequence[str], clients: int, errors: list[str], run: str = "",
            collections: Sequence[str | None] = (None,), stop: threading.Event | None = None) -> list[Asked]:  # fmt: skip
    """``asked``, ``clients`` asking at once: question i to ``collections[i % len(collections)]`` (None:
    the default one); problems go to ``errors``. Each question is marked with its number and ``run``,
    so no run is answered from the server's cache of an earlier one. Once ``stop`` is set, no further
    question is sent."""
    timed: list[Asked] = []
    lock = threading.Lock()
    queue = iter(list(enumerate(asked)))

    def ask_many() -> None:
        with httpx.Client(base_url=url, timeout=QUESTION_TIMEOUT_S) as client:
            while not (stop and stop.is_set()):
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                number, question = item
                collection = collections[number % len(collections)]
                payload = {"question": f"{question} ({run}{number})", "top_k": 5} | ({"collection": collection} if collection else {})
                begin = time.perf_counter()
                try:
                    problem = check(client.post("/api/v1/ask", json=payload))
                except httpx.HTTPError as error:
                    problem = f"{type(error).__name__}: {error}"
                with lock:
                    timed.append(Asked(begin, time.perf_counter() - begin))
                    if problem:
                        errors.append(f"{collection}: {problem}" if collection else problem)

    threads = [threading.Thread(target=ask_many) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)
    if any(thread.is_alive() for thread in threads):
        errors.append("questions did not finish within 900 s")
    return timed


def durations(asked: Sequence[Asked]) -> list[float]:
    return [one.seconds for one in asked]


def percentile(latencies: Sequence[float], share: float) -> float:
    ordered = sorted(latencies)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3) if ordered else 0.0

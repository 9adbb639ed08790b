"""Where a question's retrieval time goes: each store call of ``rag.retrieve.rank`` timed on the
client and, on a Milvus server, on the server (its proxy's search and query latency metrics).

The calls of one question run one at a time here (retrieval issues the independent ones at once),
so each server-side delta belongs to one call; the sum of the client times is therefore more than
a question takes in ``ask``.

Past the facade: the store's calls are what is timed, so it wraps a store view and runs
``rag.retrieve.rank`` over it; ``Assistant`` gives neither.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from rag.config import RetrievalSettings
from rag.encoder import Encoder
from rag.query import build_query
from rag.retrieve import rank
from rag.store.base import StoreView

STAGES = {"known_terms": "term df", "search_chunks": "chunk search (question + base vector)", "search_sentences": "sentence search",
          "lexical_search": "BM25", "chunks": "chunk records", "sentences": "sentence records and vectors",
          "sentence_vectors": "sentence vectors", "documents": "texts"}  # fmt: skip
_LATENCY = re.compile(r'^milvus_proxy_sq_latency_(sum|count)\{[^}]*query_type="(search|query)"[^}]*\} (\S+)$', re.MULTILINE)


def server_totals(url: str) -> tuple[float, int]:
    """(ms, requests) the server's proxy has spent on searches and queries (reads by key) so far."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    found: dict[str, float] = defaultdict(float)
    for kind, _, value in _LATENCY.findall(text):
        found[kind] += float(value)
    return found["sum"], int(found["count"])


class _TimedView:
    """A view whose stage calls run one at a time, each timed."""

    def __init__(self, view: StoreView, totals: Callable[[], tuple[float, int]] | None) -> None:
        self._view, self._totals = view, totals
        self._lock = threading.Lock()
        self.client: dict[str, list[float]] = defaultdict(list)
        self.server: dict[str, list[float]] = defaultdict(list)
        self.requests: dict[str, int] = defaultdict(int)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._view, name)
        if name not in STAGES:
            return method

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                before = self._totals() if self._totals else (0.0, 0)
                started = time.perf_counter()
                result = method(*args, **kwargs)
                self.client[name].append((time.perf_counter() - started) * 1000)
                after = self._totals() if self._totals else (0.0, 0)
            self.server[name].append(after[0] - before[0])
            self.requests[name] += after[1] - before[1]
            return result

        return timed


def profile(view: StoreView, encoder: Encoder, questions: Sequence[str], settings: RetrievalSettings,
            metrics_url: str | None = None) -> dict[str, dict[str, float]]:  # fmt: skip
    """Per stage: calls per question, client p50 ms and, with ``metrics_url``, the server's mean ms a
    question and its requests a question."""
    timed = _TimedView(view, (lambda: server_totals(metrics_url)) if metrics_url else None)
    for question in questions:
        rank(timed, build_query(question, encoder, view, settings), settings, 5)  # type: ignore[arg-type]
    stages = {}
    for name, label in STAGES.items():
        if name not in timed.client:
            continue
        calls = timed.client[name]
        per_question = len(calls) / len(questions)
        stages[label] = {"calls": round(per_question, 2), "client_p50_ms": round(statistics.median(calls) * per_question, 2)}
        if metrics_url:
            stages[label] |= {"server_ms": round(sum(timed.server[name]) / len(questions), 2),
                              "server_requests": round(timed.requests[name] / len(questions), 2)}  # fmt: skip
    return stages

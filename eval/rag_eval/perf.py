"""Performance benchmark: query path, cold start, ingest, memory and FAISS at scale, in one run.

``rag-eval bench`` (``make bench``) writes eval/reports/bench.md, bench.json and bench.png. All
figures of one run are measured on the same machine state, so their ratios are meaningful.
The 1M-vector case runs with ``--million``. The assistant is driven through its facade
(``Assistant.explain`` gives the time of each stage); the bare encoding is the model alone.

Past the facade: the ingest figures split documents as the index does (``rag.chunk``) to time the
bare encoding of the same pieces, and the 1M-vector case builds the store's IVF index
(``rag.vectors.build_ivf``) to measure FAISS alone.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import docx
import faiss
import numpy as np

from rag import Assistant, Settings, VectorIndexSettings
from rag.chunk import chunk_spans, split_sentences
from rag import Encoder, QuestionVectors, load_encoder
from rag.vectors import build_ivf
from rag_eval.paths import gold_file, reports_dir, write_whole
from rag_eval.runs import conversation_questions, gold_questions

NOISE = 0.01
TARGETS = {
    "ask_over_encode": 4.0,  # with the reader (issue 17; 1.5× before it read sentences)
    "int8_over_fp32": 0.6,
    "cold_start_s": 3.0,
    "build_over_encode": 0.8,
    "add_overhead_s": 2.0,
    "million_p50_ms": 5.0,
    "million_recall": 0.95,
    "history_over_alone": 1.2,  # issue 28: a follow-up asked with its conversation
}


def _median_ms(function: Callable[[], Any], repeat: int = 1) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def query_path(assistant: Assistant, encoder: Encoder, questions: list[str]) -> dict[str, Any]:
    """Warm ``ask`` against the bare forward pass, and where the difference goes."""
    for question in questions[:5]:
        assistant.ask(question)
    parts: dict[str, list[float]] = {name: [] for name in ("encode", "ask", "query (cached)", "retrieve", "answer")}
    for question in questions:
        parts["encode"].append(_median_ms(lambda: encoder.encode_questions([question])))
        assistant = assistant.with_retrieval()  # an empty cache of encoded questions: ask pays the encoding
        parts["ask"].append(_median_ms(lambda: assistant.ask(question)))
        trace = assistant.explain(question)
        for stage, key in (("query (cached)", "query"), ("retrieve", "retrieve"), ("answer", "answer")):
            parts[stage].append(trace.milliseconds[key])
    summary = {name: {"p50_ms": round(statistics.median(v), 2), "p95_ms": round(_percentile(v, 0.95), 2)} for name, v in parts.items()}
    summary["ask_over_encode"] = round(summary["ask"]["p50_ms"] / summary["encode"]["p50_ms"], 2)
    summary["questions"] = len(questions)
    return summary


def with_history(assistant: Assistant, asked: list[tuple[str, tuple[str, ...]]]) -> dict[str, Any]:
    """Warm ``ask`` of the gold follow-ups with their conversation's earlier questions against the
    same questions asked alone, each asked for the first time (nothing encoded or answered kept). In a conversation the earlier turns were answered just before, as the page asks them: a
    follow-up whose pronoun stands for an earlier answer finds it kept (``with_history``); asked with a
    history that was never asked, it answers the earlier turn first (``cold``)."""
    alone = statistics.median(_median_ms(partial(_conversation(assistant, ()).ask, q)) for q, _ in asked)
    cold = statistics.median(_median_ms(partial(_conversation(assistant, ()).ask, q, history=list(h))) for q, h in asked)
    together = statistics.median(_median_ms(partial(_conversation(assistant, h).ask, q, history=list(h))) for q, h in asked)
    return {"questions": len(asked), "alone_p50_ms": round(alone, 2), "with_history_p50_ms": round(together, 2),
            "history_over_alone": round(together / alone, 2), "cold_history_p50_ms": round(cold, 2), "cold_over_alone": round(cold / alone, 2)}  # fmt: skip


def _conversation(assistant: Assistant, history: tuple[str, ...]) -> Assistant:
    """A copy of ``assistant`` that remembers nothing but having answered ``history`` in turn, each with
    the turns before it."""
    copy = assistant.with_retrieval()
    copy.clear_cache()
    for turn, question in enumerate(history):
        copy.ask(question, history=list(history[:turn]) or None)
    return copy


def _run_python(code: str, env: dict[str, str] | None = None) -> tuple[dict[str, Any], float]:
    """Run ``code`` in a new process; it prints one JSON line. Returns it and the wall time."""
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **(env or {})}, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1]), time.perf_counter() - started


# Peak memory from VmHWM: ru_maxrss would carry the parent's peak across execve.
_PEAK_RSS = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024"
_SERVE = """
import json, time
started = time.perf_counter()
from rag import Assistant
assistant = Assistant.load()
loaded = time.perf_counter() - started
assistant.ask("哪位OpenAI首席技术官宣布离职?")
first = time.perf_counter() - started
for question in QUESTIONS:
    assistant.ask(question)
print(json.dumps({"load_s": loaded, "first_answer_s": first, "peak_rss_mb": PEAK_RSS}))
"""

_BUILD = """
import json, time
from rag import Assistant
started = time.perf_counter()
info = Assistant.load().info()
print(json.dumps({"build_s": time.perf_counter() - started, "chunks": info.chunks, "sentences": info.sentences,
                  "peak_rss_mb": PEAK_RSS}))
"""


def cold_start_and_memory(questions: list[str]) -> dict[str, Any]:
    """New processes: the server path on the built index, and a build from scratch in a copy."""
    runs = [_run_python(_SERVE.replace("QUESTIONS", repr(questions[:20])).replace("PEAK_RSS", _PEAK_RSS)) for _ in range(3)]
    serve, wall = sorted(runs, key=lambda run: run[0]["first_answer_s"])[1]  # the median of three
    settings = Settings()
    with tempfile.TemporaryDirectory() as root:
        shutil.copytree(settings.corpus_dir, Path(root) / "corpus")
        build, _ = _run_python(_BUILD.replace("PEAK_RSS", _PEAK_RSS), {"RAG_HOME": root})
    return {
        "assistant_load_s": round(serve["load_s"], 2),
        "cold_start_s": round(serve["first_answer_s"], 2),
        "cold_start_runs_s": [round(run[0]["first_answer_s"], 2) for run in runs],
        "process_wall_s": round(wall, 2),
        "serve_peak_rss_mb": round(serve["peak_rss_mb"]),
        "build_peak_rss_mb": round(build["peak_rss_mb"]),
        "build_process_s": round(build["build_s"], 2),
    }


_REFUSE = """
import json, time
from rag.errors import DocumentError
from rag.formats import extract_text
data = open(PATH, "rb").read()
def status(key):
    return int(next(l for l in open("/proc/self/status") if l.startswith(key)).split()[1]) / 1024
open("/proc/self/clear_refs", "w").write("5")  # VmHWM starts again from VmRSS
before = status("VmRSS")
started = time.perf_counter()
try:
    extract_text(data, SUFFIX, "crafted" + SUFFIX)
    refusal = ""
except DocumentError as error:
    refusal = str(error)
print(json.dumps({"s": time.perf_counter() - started, "extra_rss_mb": status("VmHWM") - before, "refusal": refusal}))
"""


def _inflated_docx() -> bytes:
    """A .docx whose word/document.xml is 60 MB of empty paragraphs (issue 23): 121 KB."""
    skeleton, crafted = io.BytesIO(), io.BytesIO()
    docx.Document().save(skeleton)
    namespace = b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = b'<w:document xmlns:w="%s"><w:body>%s</w:body></w:document>' % (namespace, b"<w:p/>" * 10_000_000)
    with zipfile.ZipFile(skeleton) as source, zipfile.ZipFile(crafted, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            target.writestr(member.filename, body if member.filename == "word/document.xml" else source.read(member))
    return crafted.getvalue()


def _pdf_declaring_objects() -> bytes:
    """A one-page PDF whose cross-reference stream declares 10 million objects, the first one's
    row again and again: 102 KB."""
    catalog, pages = b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
    out = bytearray(b"%PDF-1.5\n")
    offsets = []
    for number, body in enumerate([catalog, pages, b"<< /Type /Page /Parent 2 0 R >>"], 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    rows = [struct.pack(">BIH", 1, offset, 0) for offset in [*offsets, xref]]
    table = zlib.compress(struct.pack(">BIH", 0, 0, 65535) + b"".join(rows) + rows[0] * (10_000_000 - 5))
    dictionary = b"/Type /XRef /Size 10000000 /W [1 4 2] /Root 1 0 R /Filter /FlateDecode /Length %d" % len(table)
    out += b"4 0 obj\n<< %s >>\nstream\n%s\nendstream\nendobj\n" % (dictionary, table)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


CRAFTED = {"docx": "60 MB of empty paragraphs unpacked", "pdf": "declaring 10 million objects"}


def crafted_file_refusals() -> dict[str, dict[str, Any]]:
    """Seconds and peak extra memory to refuse crafted files (issue 23), each in a new process: the
    .docx of 60 MB of empty paragraphs and the PDF declaring 10 million objects. Before their limits
    they took 25 to 48 s and 1.3 GB, and 6 s and 680 MB, on a busy 2-core machine."""
    results = {}
    with tempfile.TemporaryDirectory() as root:
        for suffix, data in ((".docx", _inflated_docx()), (".pdf", _pdf_declaring_objects())):
            path = Path(root) / f"crafted{suffix}"
            path.write_bytes(data)
            run, _ = _run_python(_REFUSE.replace("PATH", repr(str(path))).replace("SUFFIX", repr(suffix)))
            results[suffix[1:]] = {
                "file_kb": round(len(data) / 1000),
                "refuse_s": round(run["s"], 3),
                "extra_rss_mb": round(run["extra_rss_mb"], 1),
                "refusal": run["refusal"],
            }
    return results


def _pieces(texts: list[str]) -> tuple[list[str], list[str]]:
    """The chunk and sentence texts an index of ``texts`` embeds."""
    settings = Settings()
    chunks = [text[s:e] for text in texts for s, e in chunk_spans(text, settings.chunk)]
    sentences = [text[s:e] for text in texts for s, e in split_sentences(text)]
    return chunks, sentences


def _bare_encode_s(encoder: Encoder, chunks: list[str], sentences: list[str]) -> float:
    """The model alone on the texts the index embeds (chunks and sentences, as the build does)."""
    started = time.perf_counter()
    encoder.encode_passages(chunks)
    encoder.encode_passages(sentences)
    return time.perf_counter() - started


ARTICLE = "测试公司发布季度报告\n" + "\n".join(
    f"第{i}段。测试公司今天宣布,第{i}季度的营收达到{i * 13}亿元,同比增长{i * 3}%。公司首席执行官表示,新产品将在{i}个月内上市。"
    for i in range(1, 16)
)  # fmt: skip


def ingest(news: Assistant, encoder: Encoder) -> dict[str, Any]:
    """Build throughput against bare ``encode`` of the same texts, and one incremental add."""
    documents = [news.document(summary.id) for summary in news.documents()]
    chunks, sentences = _pieces([document.text for document in documents])
    bare_s = _bare_encode_s(encoder, chunks, sentences)
    settings = Settings()
    with tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        Assistant.over(documents, Settings(root=Path(root)).for_collection("bench-build"), encoder=encoder)
        build_s = time.perf_counter() - started
        shutil.copytree(settings.corpus_dir, Path(root) / "corpus")
        copy = Assistant.load(Settings(root=Path(root)), encoder=encoder)
        path = Path(root) / "new-article.txt"
        path.write_text(ARTICLE, encoding="utf-8")
        started = time.perf_counter()
        (added,) = copy.add([path])
        add_s = time.perf_counter() - started
        new_chunks, new_sentences = _pieces([added.document.text])
        own_encode_s = _bare_encode_s(encoder, new_chunks, new_sentences)
    pieces = len(chunks) + len(sentences)
    return {
        "pieces_embedded": pieces,
        "build_s": round(build_s, 2),
        "bare_encode_s": round(bare_s, 2),
        "build_pieces_per_s": round(pieces / build_s, 1),
        "bare_pieces_per_s": round(pieces / bare_s, 1),
        "build_over_encode": round(bare_s / build_s, 3),
        "add_s": round(add_s, 2),
        "add_own_encode_s": round(own_encode_s, 2),
        "add_overhead_s": round(add_s - own_encode_s, 2),
        "add_pieces": len(new_chunks) + len(new_sentences),
    }


def synthetic_vectors(real: np.ndarray, count: int, noise: float, seed: int) -> np.ndarray:
    """Points between two random real embeddings plus a little Gaussian noise, normalised.

    Interpolation spreads the points over the region real embeddings occupy. (Noise around the
    922 real vectors alone made about 1,000 near-equidistant copies of each at 1M, a tie-breaking
    problem rather than a search problem: recall@10 0.86 for HNSW ef=256 in that run.)
    """
    rng = np.random.default_rng(seed)
    out = np.empty((count, real.shape[1]), dtype=np.float32)
    for start in range(0, count, 100_000):
        rows = min(100_000, count - start)
        first, second = real[rng.integers(0, len(real), rows)], real[rng.integers(0, len(real), rows)]
        share = rng.random((rows, 1), dtype=np.float32)
        block = first + share * (second - first) + rng.normal(0, noise, (rows, real.shape[1])).astype(np.float32)
        out[start : start + rows] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def _index_bytes(index: faiss.Index) -> int:
    return int(faiss.serialize_index(index).nbytes)


def scale(news: Assistant, encoder: Encoder, questions: list[str], sizes: list[int]) -> list[dict[str, Any]]:
    """Flat vs HNSW vs the store's IVF-SQ8 on synthetic vectors: build time, size, p50 latency, recall@10."""
    chunks, sentences = _pieces([news.document(summary.id).text for summary in news.documents()])
    real = encoder.encode_passages(sentences + chunks)
    queries = encoder.encode_questions(questions[:200]).base
    rows = []
    for size in sizes:
        data = synthetic_vectors(real, size, noise=NOISE, seed=size)
        exact = faiss.IndexFlatIP(data.shape[1])
        exact.add(data)
        _, truth = exact.search(queries, 10)
        lists = int(4 * np.sqrt(size))
        built: dict[str, tuple[faiss.Index, float]] = {}
        settings = [("Flat (exact)", "flat", None), *((f"HNSW32 ef={ef}", "hnsw", ef) for ef in (128, 256, 512)),
                    *((f"IVF{lists}-SQ8 nprobe={n}", "ivf", n) for n in (32, 128))]  # fmt: skip
        for name, kind, depth in settings:
            if kind not in built:
                started = time.perf_counter()
                made = exact if kind == "flat" else _hnsw(data, 32, 80) if kind == "hnsw" else build_ivf(data, VectorIndexSettings())
                built[kind] = (made, 0.0 if kind == "flat" else time.perf_counter() - started)
            index, build_s = built[kind]
            if kind == "hnsw":
                index.hnsw.efSearch = depth
            elif kind == "ivf":
                index.nprobe = depth
            latencies = []
            found = []
            for query in queries:
                begin = time.perf_counter()
                _, ids = index.search(query.reshape(1, -1), 10)
                latencies.append((time.perf_counter() - begin) * 1000)
                found.append(ids[0])
            recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))
            rows.append({"size": size, "index": name, "build_s": round(build_s, 2), "bytes": _index_bytes(index),
                         "p50_ms": round(statistics.median(latencies), 3), "recall@10": round(recall, 4)})  # fmt: skip
            print(f"  {size:>9,} {name:24s} build {build_s:7.1f}s  p50 {rows[-1]['p50_ms']:7.3f} ms  recall {recall:.3f}", file=sys.stderr)
        del data, exact
    return rows


def _hnsw(data: np.ndarray, neighbors: int, depth: int) -> faiss.Index:
    index = faiss.IndexHNSWFlat(data.shape[1], neighbors, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = depth
    index.add(data)
    return index


def encoding_paths(questions: list[str]) -> list[dict[str, Any]]:
    """Query encoding p50 for each backend, graph and thread count, and how close each path's
    vectors are to the fp32 ONNX graph's (mean cosine of the base and the adapted tower)."""
    rows = []
    reference: QuestionVectors | None = None
    paths = (("onnx", False, 2), ("onnx", False, 1), ("onnx", True, 2), ("onnx", True, 1), ("torch", False, 2))
    for backend, int8, threads in paths:
        settings = Settings(encoder_backend=backend, int8_questions=int8)  # type: ignore[arg-type]
        encoder = load_encoder(settings, threads=threads)
        vectors = encoder.encode_questions(questions)
        reference = vectors if reference is None else reference
        times = [_median_ms(lambda q=q: encoder.encode_questions([q])) for q in questions]
        rows.append({
            "backend": backend, "graph": "int8" if int8 else "fp32", "threads": threads,
            "encode_p50_ms": round(statistics.median(times), 2),
            "cosine_base": round(float(np.mean(np.sum(vectors.base * reference.base, axis=1))), 4),
            "cosine_adapted": round(float(np.mean(np.sum(vectors.adapted * reference.adapted, axis=1))), 4),
        })  # fmt: skip
    return rows


def int8_over_fp32(rows: list[dict[str, Any]]) -> float:
    """int8 query encoding p50 over fp32's, both ONNX Runtime on all cores, in the same run."""
    p50 = {row["graph"]: row["encode_p50_ms"] for row in rows if row["backend"] == "onnx" and row["threads"] == max(r["threads"] for r in rows)}
    return round(p50["int8"] / p50["fp32"], 2)


def run(million: bool = False) -> dict[str, Any]:
    encoder = load_encoder(Settings())
    news = Assistant.load(encoder=encoder)  # builds the index first if needed, so cold starts find it ready
    gold = gold_questions(news, gold_file())
    questions = [q.question for q in gold]
    report: dict[str, Any] = {"targets": TARGETS, "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "faiss": faiss.__version__}}
    print("cold start and memory …", file=sys.stderr)
    report["cold_start"] = cold_start_and_memory(questions)
    print("query path …", file=sys.stderr)
    report["query_path"] = query_path(news, encoder, questions)
    report["history"] = with_history(news, [(q.question, q.history) for q in conversation_questions(news, gold_file()) if q.follow_up])
    report["encoding"] = encoding_paths(questions[:60])
    report["int8_over_fp32"] = int8_over_fp32(report["encoding"])
    print("ingest …", file=sys.stderr)
    report["ingest"] = ingest(news, encoder)
    print("crafted files …", file=sys.stderr)
    report["crafted"] = crafted_file_refusals()
    print("scale …", file=sys.stderr)
    report["scale"] = scale(news, encoder, questions, [10_000, 100_000] + ([1_000_000] if million else []))
    previous = reports_dir() / "bench.json"
    if not million and previous.exists():  # keep the last 1M measurement when this run skipped it
        earlier = [row for row in json.loads(previous.read_text()).get("scale", []) if row["size"] >= 1_000_000]
        report["scale"] += [row | {"from_earlier_run": True} for row in earlier]
    return report


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def markdown(report: dict[str, Any]) -> str:
    q, c, i = report["query_path"], report["cold_start"], report["ingest"]
    t = report["targets"]
    million = sorted((row for row in report["scale"] if row["size"] >= 1_000_000 and row["p50_ms"] <= TARGETS["million_p50_ms"]),
                     key=lambda row: -row["recall@10"])[:1]  # the best recall within the latency target
    lines = [
        "# Performance benchmark",
        "",
        f"`rag-eval bench` (`make bench`; `--million` adds 1M vectors). {report['machine']['cpus']} CPUs, Python {report['machine']['python']}, "
        f"FAISS {report['machine']['faiss']}. All figures from one run, except rows marked (earlier run): the 1M case runs only with `--million`.",
        "",
        "## Targets",
        "",
        "| figure | measured | target | |",
        "|---|---|---|---|",
        f"| warm `ask` p50 / bare query encoding p50 | {q['ask']['p50_ms']} / {q['encode']['p50_ms']} ms = **{q['ask_over_encode']}×** | ≤ {t['ask_over_encode']}× | {_verdict(q['ask_over_encode'] <= t['ask_over_encode'])} |",
        f"| int8 / fp32 query encoding p50 (ONNX Runtime, 60 questions) | **{report['int8_over_fp32']}×** | ≤ {t['int8_over_fp32']}× | {_verdict(report['int8_over_fp32'] <= t['int8_over_fp32'])} |",
        f"| cold start: new process → first answer (built index; median of {', '.join(map(str, c['cold_start_runs_s']))} s) | **{c['cold_start_s']} s** (`Assistant.load()` {c['assistant_load_s']} s) | ≤ {t['cold_start_s']} s | {_verdict(c['cold_start_s'] <= t['cold_start_s'])} |",
        f"| build throughput / bare `encode` throughput | {i['build_pieces_per_s']} / {i['bare_pieces_per_s']} pieces/s = **{i['build_over_encode']}** | ≥ {t['build_over_encode']} | {_verdict(i['build_over_encode'] >= t['build_over_encode'])} |",
        f"| `add` of one article, beyond its own encoding | {i['add_s']} s − {i['add_own_encode_s']} s = **{i['add_overhead_s']} s** ({i['add_pieces']} pieces) | ≤ {t['add_overhead_s']} s | {_verdict(i['add_overhead_s'] <= t['add_overhead_s'])} |",
        *([f"| warm `ask` p50 with the conversation / alone ({h['questions']} gold follow-ups; the earlier turns answered before, as the page asks) | "
           f"{h['with_history_p50_ms']} / {h['alone_p50_ms']} ms = **{h['history_over_alone']}×** | ≤ {t['history_over_alone']}× | "
           f"{_verdict(h['history_over_alone'] <= t['history_over_alone'])} |",
           f"| the same with a history never asked before (the earlier turn answered first) | {h['cold_history_p50_ms']} ms = **{h['cold_over_alone']}×** | — | — |"]
          if (h := report.get("history")) else []),
        *(f"| a crafted .{kind} ({r['file_kb']} KB: {CRAFTED[kind]}) refused: time, extra memory | **{r['refuse_s']} s, {r['extra_rss_mb']} MB** | ≤ 1 s, ≤ 100 MB | "
          f"{_verdict(r['refuse_s'] <= 1.0 and r['extra_rss_mb'] <= 100)} |" for kind, r in report.get("crafted", {}).items()),
    ]
    if million:
        row = million[0]
        ok = row["p50_ms"] <= t["million_p50_ms"] and row["recall@10"] >= t["million_recall"]
        lines.append(f"| 1M vectors, {row['index']}: p50 search, recall@10 | **{row['p50_ms']} ms, {row['recall@10']}** | ≤ {t['million_p50_ms']} ms, ≥ {t['million_recall']} | {_verdict(ok)} |")
    else:
        lines.append("| 1M vectors | not measured in this run (`rag-eval bench --million`) | ≤ 5 ms, ≥ 0.95 | — |")
    lines += [
        "",
        f"## Query path ({q['questions']} gold questions, warm)",
        "",
        "| step | p50 ms | p95 ms |",
        "|---|---|---|",
        *[f"| {name} | {v['p50_ms']} | {v['p95_ms']} |" for name, v in q.items() if isinstance(v, dict)],
        "",
        "`ask` = validate + tokenise + expand + encode (English questions encode their Chinese keywords too) + retrieve + answer, "
        "with no cached question. The stage rows come from `Assistant.explain` on a repeated question (its vectors cached): "
        "`retrieve` holds the dense chunk and sentence searches, BM25, fusion and the sentence-level second stage.",
        "",
        "## Query encoding by path (60 gold questions)",
        "",
        "| backend | graph | threads | p50 ms | cosine to ONNX fp32: base / adapted |",
        "|---|---|---|---|---|",
        *[f"| {r['backend']} | {r['graph']} | {r['threads']} | {r['encode_p50_ms']} | {r['cosine_base']} / {r['cosine_adapted']} |" for r in report["encoding"]],
        "",
        f"Questions encode with the {'int8' if Settings().int8_questions else 'fp32'} graph by default (`Settings.int8_questions`): "
        "why, and what int8 did to gold retrieval and answers, in experiments.md; the parity check is in `tests/rag/test_model.py`.",
        "",
        "## Memory and processes",
        "",
        f"- serve (load, answer 21 questions): peak RSS **{c['serve_peak_rss_mb']} MB**; process wall time {c['process_wall_s']} s.",
        f"- build from scratch in a new process: peak RSS **{c['build_peak_rss_mb']} MB**, {c['build_process_s']} s.",
        f"- build in-process: {i['pieces_embedded']} pieces (chunks + sentences) in {i['build_s']} s; bare encode of the same texts {i['bare_encode_s']} s.",
        "",
        f"## FAISS at scale (synthetic vectors between pairs of real chunk and sentence embeddings + Gaussian noise σ={NOISE}; 200 real questions as queries)",
        "",
        "| vectors | index | build s | size MB | p50 search ms | recall@10 vs exact |",
        "|---|---|---|---|---|---|",
        *[f"| {r['size']:,} | {r['index']} | {r['build_s']} | {r['bytes'] / 2**20:.0f} | {r['p50_ms']} | {r['recall@10']} |{' (earlier run)' if r.get('from_earlier_run') else ''}" for r in report["scale"]],
        "",
        "The store uses exact search (`IndexFlatIP`) up to `VectorIndexSettings.exact_max` = 50,000 vectors (≈ 7 ms a query there) "
        "and IVF-SQ8 beyond (4·√N lists, nprobe 128): the only kind here that met recall@10 ≥ 0.95 under 5 ms at 1M. "
        "Set in `rag/config.py`, tested in `tests/rag/test_retrieval.py`; an index that grows past the threshold is rebuilt as IVF.",
        "",
        "![latency and recall vs size](bench.png)",
    ]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name in sorted({row["index"] for row in report["scale"]}):
        rows = sorted((r for r in report["scale"] if r["index"] == name), key=lambda r: r["size"])
        sizes = [r["size"] for r in rows]
        axes[0].plot(sizes, [r["p50_ms"] for r in rows], marker="o", label=name)
        axes[1].plot(sizes, [r["recall@10"] for r in rows], marker="o", label=name)
    axes[0].set(xscale="log", yscale="log", xlabel="vectors", ylabel="p50 single-query search (ms)", title="Latency")
    axes[1].set(xscale="log", xlabel="vectors", ylabel="recall@10 vs exact", title="Recall", ylim=(0.8, 1.01))
    for axis in axes:
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(report: dict[str, Any], directory: Path | None = None) -> None:
    directory = directory or reports_dir()
    write_whole(directory / "bench.json", json.dumps(report, ensure_ascii=False, indent=2).encode() + b"\n")
    plot(report, directory / "bench.png")
    write_whole(directory / "bench.md", markdown(report).encode())

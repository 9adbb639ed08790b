"""End-to-end scale benchmark: ``Assistant.ask`` over 10k, 100k and 1M chunks (``rag-eval scale``).

Realistic data without 20 hours of embedding: a pool of real sentences (the seed articles and the
public datasets' passages, split as the index splits them) is embedded once with the real model.
Synthetic articles are made of *recombined* pool sentences: each one is the first half of a real
sentence followed by the second half of another, and its vector is the normalised mix of the two
real vectors, weighted by the characters each half contributes; a chunk's vector is the normalised
sum of its sentences' vectors (``PoolEncoder``). So the text is real Chinese (BM25 sees real words)
and the vectors lie where real embeddings lie, without duplicates. The five seed articles are part
of every corpus, so the gold questions still have their answers among the distractors.

Questions are encoded by the real model; each size is built once into its own project folder and
measured in fresh processes (build; then load, ask, add and remove, recall of each approximate
stage against exact search, peak memory, index size on disk).

Past the facade: the recall of the approximate searches is measured against exact search over the
local store's own segments (``rag.store.local``); a built archive is reused while its index
fingerprint (``rag.ingest.fingerprint``) matches today's; the pool's sentences are split, and
articles sized, as the index splits them (``rag.chunk``, ``rag.clean``).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag import Assistant, Encoder, QuestionVectors, Settings, load_encoder
from rag.chunk import chunk_spans, split_sentences
from rag.clean import normalize_line
from rag.ingest import fingerprint
from rag.store import open_store
from rag.store.local import LocalStore
from rag_eval import stages
from rag_eval.datasets import load_dataset
from rag_eval.milvus_server import MilvusServerProcess
from rag_eval.paths import write_whole

SENTENCES_PER_ARTICLE = (25, 45)
METRICS = "RAG_SCALE_METRICS"  # a Milvus server's metrics URL, for the server side of each stage
SENTENCE_CHARS = (8, 120)


@dataclass(frozen=True)
class Pool:
    sentences: list[str]
    vectors: np.ndarray


def text_hash(texts: Sequence[str]) -> np.ndarray:
    return np.array([int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little") for t in texts], dtype=np.uint64)


def build_pool(corpus: Path, datasets: Sequence[Path], encoder: Encoder, cache: Path) -> tuple[Pool, Path]:
    """The real sentences and their real vectors, and the file that caches the vectors (embedding
    them takes minutes)."""
    texts = [normalize_line(line) for path in sorted(corpus.glob("*.txt")) for line in path.read_text(encoding="utf-8").splitlines()]
    for folder in datasets:
        texts += load_dataset(folder).passages.values()
    sentences = sorted({text[s:e] for text in texts for s, e in split_sentences(text) if SENTENCE_CHARS[0] <= e - s <= SENTENCE_CHARS[1]})
    digest = hashlib.sha256("\n".join(sentences).encode() + encoder.model_sha256.encode()).hexdigest()[:16]
    path = cache / f"scale-pool-{digest}.npy"
    if path.exists():
        return Pool(sentences, np.load(path)), path
    print(f"embedding the pool: {len(sentences):,} real sentences (once) …", file=sys.stderr)
    vectors = encoder.encode_passages(sentences, progress=True)
    cache.mkdir(parents=True, exist_ok=True)
    write_whole(path, _npy_bytes(vectors))
    return Pool(sentences, vectors), path


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def splice(first: str, second: str) -> tuple[str, float]:
    head, tail = first[: max(1, len(first) // 2)], second[len(second) // 2 :]
    return head + tail, len(head) / (len(head) + len(tail))


def write_corpus(pool: Pool, articles: int, root: Path, seeds: Path, seed: int = 0) -> None:
    """``articles`` synthetic articles and the seed articles in ``root/corpus``; the recipe of every
    synthetic sentence (its two pool sentences and their weight) in ``root/recipes.npz``."""
    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for path in seeds.iterdir():
        shutil.copy(path, corpus / path.name)
    rng = np.random.default_rng(seed)
    hashes, firsts, seconds, weights = [], [], [], []
    for number in range(articles):
        count = int(rng.integers(*SENTENCES_PER_ARTICLE))
        pairs = rng.integers(0, len(pool.sentences), size=(count, 2))
        sentences = []
        for a, b in pairs:
            text, weight = splice(pool.sentences[a], pool.sentences[b])
            sentences.append(text)
            firsts.append(a)
            seconds.append(b)
            weights.append(weight)
        hashes.append(text_hash(sentences))
        paragraphs = ["".join(sentences[i : i + 4]) for i in range(1, count, 4)]
        (corpus / f"s{number:07d}.txt").write_text(sentences[0] + "\n" + "\n".join(paragraphs) + "\n", encoding="utf-8")
    order = np.argsort(np.concatenate(hashes), kind="stable")
    np.savez(root / "recipes.npz", hashes=np.concatenate(hashes)[order], first=np.array(firsts, np.int32)[order],
             second=np.array(seconds, np.int32)[order], weight=np.array(weights, np.float32)[order])  # fmt: skip


class PoolEncoder:
    """``rag.encoder.Encoder`` for the benchmark: passages from the recipes (no model), questions by
    the real model. A sentence cleaning changed (not in the recipes) gets a pool vector chosen by its
    hash; ``misses`` counts them."""

    def __init__(self, pool: Pool, recipes: Path, questions: Encoder) -> None:
        data = np.load(recipes)
        self.hashes, self.first, self.second, self.weight = data["hashes"], data["first"], data["second"], data["weight"]
        self.pool, self.questions = pool, questions
        self.model_id, self.model_sha256 = questions.model_id, questions.model_sha256
        self.dimension, self.backend = questions.dimension, questions.backend
        self.sentences = self.misses = 0

    def _sentence_vectors(self, sentences: list[str]) -> np.ndarray:
        hashes = text_hash(sentences)
        found = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        known = self.hashes[found] == hashes
        first = np.where(known, self.first[found], (hashes % len(self.pool.sentences)).astype(np.int64))
        second = np.where(known, self.second[found], first)
        weight = np.where(known, self.weight[found], 1.0)[:, None]
        vectors = weight * self.pool.vectors[first] + (1 - weight) * self.pool.vectors[second]
        self.sentences += len(sentences)
        self.misses += int((~known).sum())
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        pieces = [[text[s:e] for s, e in split_sentences(text)] or [text] for text in texts]
        flat = self._sentence_vectors([sentence for piece in pieces for sentence in piece]) if texts else np.zeros((0, self.dimension))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        at = 0
        for row, piece in enumerate(pieces):
            summed = flat[at : at + len(piece)].sum(axis=0)
            out[row] = summed / np.linalg.norm(summed)
            at += len(piece)
        return out

    def encode_questions(self, texts: Sequence[str]) -> QuestionVectors:
        return self.questions.encode_questions(texts)


def _status_mb(field: str) -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith(field)).split()[1]) / 1024


def _peak_rss_mb() -> float:
    return _status_mb("VmHWM")


def _disk_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _pool_encoder(root: Path, pool_path: Path) -> PoolEncoder:
    data = np.load(pool_path, allow_pickle=False)
    sentences = json.loads((root / "pool.json").read_text(encoding="utf-8"))
    return PoolEncoder(Pool(sentences, data), root / "recipes.npz", load_encoder(Settings()))


def build(root: Path, pool_path: Path) -> dict[str, Any]:
    """In a fresh process: index the corpus of ``root``; time, memory, size."""
    encoder = _pool_encoder(root, pool_path)
    started = time.perf_counter()
    info = Assistant.load(Settings(root=root), encoder=encoder, progress=True).info()
    seconds = time.perf_counter() - started
    return {"build_s": round(seconds, 1), "documents": info.documents, "chunks": info.chunks, "sentences": info.sentences,
            "pieces_per_s": round((info.chunks + info.sentences) / seconds), "build_peak_rss_mb": round(_peak_rss_mb()),
            "index_bytes": _disk_bytes(root / "index") or _disk_bytes(root / "server"), "corpus_bytes": _disk_bytes(root / "corpus"), "details": info.details,
            "store": info.store, "unrecognised_sentences": f"{encoder.misses}/{encoder.sentences}",
            "fingerprint": fingerprint(Settings(root=root), encoder).as_dict()}  # fmt: skip


def _exact_top(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]], queries: np.ndarray, k: int) -> list[set[int]]:
    """Exact top-``k`` ids per query over (vectors, ids, deleted) parts, a block of rows at a time."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), k), dtype=np.int64)
    for vectors, ids, deleted in parts:
        for start in range(0, len(vectors), 200_000):
            scores = np.asarray(vectors[start : start + 200_000], dtype=np.float32) @ queries.T  # rows × queries
            if deleted is not None:
                scores[deleted[start : start + 200_000]] = -np.inf
            block_ids = np.asarray(ids[start : start + 200_000])
            merged_scores = np.concatenate([best_scores, scores.T], axis=1)
            merged_ids = np.concatenate([best_ids, np.broadcast_to(block_ids, (len(queries), len(block_ids)))], axis=1)
            top = np.argpartition(-merged_scores, k - 1, axis=1)[:, :k]
            best_scores = np.take_along_axis(merged_scores, top, axis=1)
            best_ids = np.take_along_axis(merged_ids, top, axis=1)
    return [set(row.tolist()) for row in best_ids]


def approximate_recall(view: Any, queries: np.ndarray, k: int = 10, exact: Any = None) -> dict[str, float]:
    """recall@k of the store's chunk and sentence searches against exact search over the vectors of
    a local store's view: ``view``'s own, or ``exact``, a local twin holding the same pieces under
    the same ids (a Milvus server's archive built from the same corpus)."""
    recall = {}
    for part_name, search in (("chunk", view.search_chunks), ("sentence", view.search_sentences)):
        parts = [(getattr(p.segment, f"{part_name}_vectors"), getattr(p.segment, f"{part_name}_ids"),
                  p.chunk_deleted if part_name == "chunk" else p.sentence_deleted) for p in (exact or view).parts]  # fmt: skip
        best = _exact_top(parts, queries, k)
        found = [set(search(query.reshape(1, -1), k)[0][0].tolist()) for query in queries]
        recall[part_name] = round(float(np.mean([len(f & e) / k for f, e in zip(found, best, strict=True)])), 4)
    return recall


def measure(root: Path, pool_path: Path, questions: list[str]) -> dict[str, Any]:
    """In a fresh process: load, ask (each question once, so nothing is cached), add and remove an
    article, recall of the approximate stages, peak memory."""
    encoder = _pool_encoder(root, pool_path)
    started = time.perf_counter()
    assistant = Assistant.load(Settings(root=root), encoder=encoder)
    load_s = time.perf_counter() - started
    for question in questions[:5]:
        assistant.ask(question + "?")  # warm up: first-use paths, page cache
    bare, asked, retrieve, read = [], [], [], []
    for question in questions:
        begin = time.perf_counter()
        encoder.questions.encode_questions([question])
        bare.append((time.perf_counter() - begin) * 1000)
        trace = assistant.explain(question)
        asked.append(trace.milliseconds["total"])
        retrieve.append(trace.milliseconds["retrieve"])
        read.append(trace.milliseconds["read"])
    # The reader (issue #17) costs about the same at every size: its budget is "ask <= 4x encode"
    # (eval/reports/bench.md); the scale targets are on everything else, so it is reported apart.
    without_reader = [a - r - b for a, r, b in zip(asked, read, bare, strict=True)]
    serve_rss = _peak_rss_mb()
    anon, mapped = _status_mb("RssAnon"), _status_mb("RssFile")  # the process's own memory, and mapped index pages
    (add_s, remove_s), (add_again_s, remove_again_s) = (_add_and_remove(assistant, root / f"new-article-{n}.txt", n) for n in range(2))
    result: dict[str, Any] = {
        "load_s": round(load_s, 2), "questions": len(questions),
        "encode_p50_ms": round(statistics.median(bare), 2), "ask_p50_ms": round(statistics.median(asked), 2),
        "ask_p95_ms": round(sorted(asked)[int(0.95 * len(asked))], 2), "retrieve_p50_ms": round(statistics.median(retrieve), 2),
        "read_p50_ms": round(statistics.median(read), 2),
        "ask_minus_encode_read_p50_ms": round(statistics.median(without_reader), 2),
        "ask_minus_encode_read_p95_ms": round(sorted(without_reader)[int(0.95 * len(without_reader))], 2),
        "serve_peak_rss_mb": round(serve_rss), "serve_anon_mb": round(anon), "serve_mapped_mb": round(mapped),
        "add_s": round(add_s, 3), "remove_s": round(remove_s, 3), "add_again_s": round(add_again_s, 3), "remove_again_s": round(remove_again_s, 3),
        "details": assistant.info().details,  # as searched now (lists probed are search-time settings), not as built
    }  # fmt: skip
    result["ask_minus_encode_p50_ms"] = round(result["ask_p50_ms"] - result["encode_p50_ms"], 2)
    begin = time.perf_counter()
    result["verify_ok"] = assistant.verify().ok  # every byte against its checksum (rag verify)
    result["verify_s"] = round(time.perf_counter() - begin, 2)
    settings = Settings(root=root)
    store = open_store(settings)
    store.refresh()
    result["stages"] = stages.profile(store.view(), encoder.questions, questions[:50], settings.retrieval, os.environ.get(METRICS))
    vectors = encoder.questions.encode_questions(questions[:100]).base
    twin = _local_twin(root, store.view()) if settings.store else store
    if twin is not None:
        result["recall@10"] = approximate_recall(store.view(), vectors, exact=twin.view())
    return result


def _add_and_remove(assistant: Assistant, article: Path, number: int) -> tuple[float, float]:
    """Seconds to add one new article, then to remove it. The process's first add also imports the
    text splitter (≈ 0.35 s), which its later adds do not: the report shows both."""
    article.write_text(f"测试公司{number}发布季度报告\n" + "\n".join(f"第{i}段。测试公司{number}今天宣布,第{i}季度的营收达到{i * 13 + number}亿元。"
                                                         for i in range(15)), encoding="utf-8")  # fmt: skip
    begin = time.perf_counter()
    (added,) = assistant.add([article])
    added_s = time.perf_counter() - begin
    begin = time.perf_counter()
    assistant.remove([added.document.id])
    return added_s, time.perf_counter() - begin


def open_index(root: Path) -> dict[str, Any]:
    """In a fresh process: the local index alone opened (``Assistant.load`` also loads the reader and
    jieba's dictionary). Not in ``measure``'s process: the store's background parse of a large
    segment would still hold the GIL while ``Assistant.load`` ran there (its load 8.0 s at 1M, 2.8 s
    alone)."""
    started = time.perf_counter()
    LocalStore(Settings(root=root)).refresh()
    return {"open_s": round(time.perf_counter() - started, 2)}


def _local_twin(root: Path, view: Any) -> Any:
    """The local store of the same size built from the same corpus, when its pieces have the ids
    of ``view``'s (a Milvus server's): its vectors give the exact answers."""
    folder = root.with_name(root.name.removesuffix("-milvus"))
    if not (folder / "index").exists():
        return None
    twin = LocalStore(Settings(root=folder, store=None))
    twin.refresh()
    sample = list(range(0, twin.view().chunk_count, max(1, twin.view().chunk_count // 50)))
    same = twin.view().chunks(sample) == view.chunks(sample) and twin.view().generation > 0
    return twin if same else None


def _child(command: str, root: Path, pool_path: Path, questions: list[str] | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``build``, ``open`` or ``measure`` in a new process (clean memory figures); returns its JSON."""
    arguments = [sys.executable, "-m", "rag_eval.scale", command, str(root), str(pool_path)]
    payload = json.dumps(questions or [], ensure_ascii=False)
    completed = subprocess.run(arguments, input=payload, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{command} of {root} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def chunks_per_article(pool: Pool, sample: int = 200) -> float:
    rng = np.random.default_rng(1)
    counts = []
    for _ in range(sample):
        count = int(rng.integers(*SENTENCES_PER_ARTICLE))
        text = "".join(splice(pool.sentences[a], pool.sentences[b])[0] for a, b in rng.integers(0, len(pool.sentences), size=(count, 2)))
        counts.append(len(chunk_spans(text, Settings().chunk)))
    return float(np.mean(counts))


def _is_current(root: Path, encoder: Encoder) -> bool:
    """Whether ``root`` holds a finished build that today's code would open without rebuilding."""
    built = root / "built.json"
    if not built.exists():
        return False
    recorded = json.loads(built.read_text()).get("fingerprint")
    return recorded == fingerprint(Settings(root=root), encoder).as_dict()


def _build_and_measure(size: int, root: Path, pool: tuple[Pool, Path], encoder: Encoder, questions: list[str],
                       env: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    real, pool_path = pool
    if not _is_current(root, encoder):
        for stale in ("corpus", "index"):  # the other files are overwritten
            shutil.rmtree(root / stale, ignore_errors=True)
        articles = math.ceil(size / chunks_per_article(real))
        print(f"{size:,} chunks: writing about {articles:,} articles …", file=sys.stderr)
        write_corpus(real, articles, root, Settings().corpus_dir)
        (root / "pool.json").write_text(json.dumps(real.sentences, ensure_ascii=False), encoding="utf-8")
        built = _child("build", root, pool_path, env=env)
        write_whole(root / "built.json", json.dumps(built).encode())
    built = json.loads((root / "built.json").read_text())
    print(f"{size:,} chunks: measuring …", file=sys.stderr)
    opened = {} if "RAG_STORE" in env else _child("open", root, pool_path, env=env)  # a local store's index alone
    return {"size": size, "measured": time.strftime("%Y-%m-%d"), **built, **opened, **_child("measure", root, pool_path, questions, env=env)}


def run(sizes: Sequence[int], datasets: Sequence[Path], work: Path, questions: list[str],
        server_sizes: Sequence[int] = ()) -> list[dict[str, Any]]:  # fmt: skip
    """Build (once) and measure each size on the local store, and each of ``server_sizes`` on a
    Milvus server started here (its data kept in the work folder, so a rerun reuses the build)."""
    settings = Settings()
    encoder = load_encoder(settings)
    pool = build_pool(settings.corpus_dir, datasets, encoder, settings.cache_dir / "bench")
    rows = [_build_and_measure(size, work / f"scale-{size}", pool, encoder, questions, {}) for size in sizes]
    for size in server_sizes:
        root = work / f"scale-{size}-milvus"
        if not (root / "server").exists():  # a new server has none of the built collections
            (root / "built.json").unlink(missing_ok=True)
        server = MilvusServerProcess(root / "server", timeout_s=300)
        with server as uri:
            rows.append(_build_and_measure(size, root, pool, encoder, questions, {"RAG_STORE": uri, METRICS: server.metrics_url}))
    return rows


TARGETS = {"ask_minus_encode_p50_ms": 15.0, "ask_minus_encode_p95_ms": 40.0, "serve_peak_rss_mb": 4096, "recall": 0.95, "add_s": 1.0}


def _again(row: dict[str, Any]) -> str:
    return f" ({row['add_again_s']} / {row['remove_again_s']})" if "add_again_s" in row else ""


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "# Scale benchmark", "",
        "`rag-eval scale` (`make bench-scale`): `Assistant.ask` end to end (question encoding, dense chunk and sentence "
        "search, BM25, fusion, the sentence stage, the answer) over synthetic archives built from recombined real "
        "sentences and their real vectors (see `rag_eval/scale.py`), with the five seed articles among them. Each size "
        "is built once, then measured in a fresh process; ratios are within one process.", "",
        "`ask − encode − read` is everything but the question's encoding and the reader (targets: p50 ≤ 15 ms, "
        "p95 ≤ 40 ms); the reader reads the same few sentences at every size and has its own budget "
        "(ask ≤ 4× encode, `bench.md`). On a Milvus server, the index on disk is the server's data folder, and the "
        "memory shown is the asking process's only. `load s` is `Assistant.load` with the model already loaded (the "
        "reader and jieba's dictionary included), in brackets the local index alone; `verify s` reads every byte of "
        "the index against its checksum (`rag verify`).", "",
        "| chunks | sentences | documents | store | build s (pieces/s, no model) | build peak RSS MB | index on disk MB | load s (the index alone) | verify s | "
        "encode p50 ms | ask p50 / p95 ms | read p50 ms | ask − encode − read p50 / p95 ms | serve peak RSS MB (own + mapped index pages, after the questions) | add / remove one article s (the process's first; again) | recall@10 chunks / sentences |",
        "|" + "---|" * 16,
    ]  # fmt: skip
    for row in rows:
        recall = row.get("recall@10", {})
        lines.append(
            f"| {row['chunks']:,} | {row['sentences']:,} | {row['documents']:,} | {row['store']} (chunks {row['details'].get('chunk vectors', '')}; sentences {row['details'].get('sentence vectors', '')}) "
            f"| {row['build_s']} ({row['pieces_per_s']:,}) | {row['build_peak_rss_mb']:,} | {row['index_bytes'] / 2**20:,.0f} | {row['load_s']} ({row.get('open_s', '—')}) | {row.get('verify_s', '—')} "
            f"| {row['encode_p50_ms']} | {row['ask_p50_ms']} / {row['ask_p95_ms']} | {row.get('read_p50_ms', '—')} "
            f"| {row.get('ask_minus_encode_read_p50_ms', '—')} / {row.get('ask_minus_encode_read_p95_ms', '—')} "
            f"| {row['serve_peak_rss_mb']:,} ({row.get('serve_anon_mb', '—')} + {row.get('serve_mapped_mb', '—')} mapped) "
            f"| {row['add_s']} / {row['remove_s']}{_again(row)} | {recall.get('chunk', '—')} / {recall.get('sentence', '—')} |"
        )
    for row in rows:
        if row.get("stages"):
            title = f"**{row['chunks']:,} chunks, {row['store']}: each store call of a question alone** (`rag_eval/stages.py`; retrieval issues the independent ones at once)"
            lines += ["", title, "",
                      "| stage | calls a question | client p50 ms a question | server ms a question | server requests a question |", "|---|---|---|---|---|"]  # fmt: skip
            lines += [f"| {name} | {stage['calls']} | {stage['client_p50_ms']} | {stage.get('server_ms', '—')} | {stage.get('server_requests', '—')} |"
                      for name, stage in row["stages"].items()]  # fmt: skip
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    local = sorted((r for r in rows if r["store"] == "local files"), key=lambda r: r["chunks"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    sizes = [r["chunks"] for r in local]
    for key, label in (("encode_p50_ms", "bare encoding p50"), ("ask_p50_ms", "ask p50"), ("ask_p95_ms", "ask p95")):
        axes[0].plot(sizes, [r[key] for r in local], marker="o", label=label)
    axes[0].set(xscale="log", xlabel="chunks", ylabel="ms", title="A question, end to end (local store)")
    for part in ("chunk", "sentence"):
        axes[1].plot(sizes, [r.get("recall@10", {}).get(part, float("nan")) for r in local], marker="o", label=f"{part} search")
    axes[1].set(xscale="log", xlabel="chunks", ylabel="recall@10 vs exact", title="Approximate stages", ylim=(0.8, 1.01))
    for axis in axes:
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(rows: list[dict[str, Any]], directory: Path) -> None:
    previous = directory / "scale.json"
    measured = {(r["chunks"] // 1000, r["store"]) for r in rows}
    if previous.exists():  # keep the sizes this run did not measure (each is marked by its own time)
        rows = rows + [r for r in json.loads(previous.read_text()) if (r["chunks"] // 1000, r["store"]) not in measured]
    rows = sorted(rows, key=lambda r: (r["store"], r["chunks"]))
    write_whole(directory / "scale.json", json.dumps(rows, ensure_ascii=False, indent=1).encode() + b"\n")
    plot(rows, directory / "scale.png")
    write_whole(directory / "scale.md", (markdown(rows) + "\n![latency and recall by size](scale.png)\n").encode())


def main() -> None:
    command, root, pool_path = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    if command == "build":
        result = build(root, pool_path)
    elif command == "open":
        result = open_index(root)
    else:
        result = measure(root, pool_path, json.loads(sys.stdin.read()))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()

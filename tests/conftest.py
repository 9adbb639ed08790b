from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"


def seed_raw(prefix: str) -> str:
    (path,) = CORPUS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def seed_documents():
    from rag.config import Settings
    from rag.corpus import load_corpus

    return {doc.id[:3]: doc for doc in load_corpus(CORPUS, Settings().max_document_bytes)}


@pytest.fixture(scope="session")
def encoder():
    from rag.config import Settings
    from rag.embed import Encoder

    settings = Settings()
    return Encoder.load(settings.model_dir, backend=settings.encoder_backend)


@pytest.fixture(scope="session")
def news(encoder):
    """The assistant over the seed corpus (index built by `make index`, or here if missing)."""
    from rag.assistant import Assistant

    return Assistant.load(encoder=encoder)


@pytest.fixture()
def project_copy(tmp_path, news):
    """A throw-away project root holding the seed corpus and a copy of its built index."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    shutil.copytree(news.index_dir, tmp_path / "index" / "news", ignore=shutil.ignore_patterns(".staging-*"))
    return tmp_path

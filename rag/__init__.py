"""Extractive question answering over Chinese news articles, with cited passages."""

from rag.answer import Answer, Citation, Passage
from rag.assistant import Assistant
from rag.config import ChunkSettings, RetrievalSettings, Settings
from rag.errors import (
    DocumentError,
    IndexCorruptError,
    IndexMissingError,
    InvalidQuestionError,
    ModelMissingError,
    RagError,
)

__all__ = [
    "Answer",
    "Assistant",
    "ChunkSettings",
    "Citation",
    "DocumentError",
    "IndexCorruptError",
    "IndexMissingError",
    "InvalidQuestionError",
    "ModelMissingError",
    "Passage",
    "RagError",
    "RetrievalSettings",
    "Settings",
]

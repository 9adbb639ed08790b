"""Extractive question answering over Chinese news articles, with cited passages."""

import os

# Never phone home: ONNX Runtime's telemetry and the Hugging Face hub stay off in every process
# that uses the library (they must be set before those libraries are imported).
for _name, _value in (("ORT_DISABLE_TELEMETRY", "1"), ("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                      ("HF_HUB_DISABLE_TELEMETRY", "1"), ("GRADIO_ANALYTICS_ENABLED", "False"),
                      ("FASTAPI_OTEL_AUTO_CONFIGURE", "false")):  # fmt: skip
    os.environ.setdefault(_name, _value)

from rag.answer import Answer, Citation, Passage  # noqa: E402
from rag.assistant import Assistant, Info, Limits, Trace  # noqa: E402
from rag.collection import AddResult  # noqa: E402
from rag.config import ChunkSettings, RetrievalSettings, Settings, VectorIndexSettings  # noqa: E402
from rag.corpus import Document, DocumentSummary  # noqa: E402
from rag.model import prepare_model  # noqa: E402
from rag.query import validate_question, validate_top_k  # noqa: E402
from rag.errors import (  # noqa: E402
    CancelledError,
    DocumentError,
    DocumentTooLargeError,
    IndexBusyError,
    IndexCorruptError,
    IndexMissingError,
    InvalidCollectionError,
    InvalidQuestionError,
    ModelMissingError,
    RagError,
    StorageError,
    StoreUnavailableError,
    UnknownCollectionError,
    UnknownDocumentError,
)

__all__ = [
    "AddResult",
    "CancelledError",
    "DocumentTooLargeError",
    "UnknownCollectionError",
    "Answer",
    "Assistant",
    "ChunkSettings",
    "Citation",
    "Document",
    "DocumentError",
    "DocumentSummary",
    "IndexBusyError",
    "IndexCorruptError",
    "IndexMissingError",
    "InvalidCollectionError",
    "InvalidQuestionError",
    "Info",
    "Limits",
    "ModelMissingError",
    "Passage",
    "RagError",
    "Settings",
    "StorageError",
    "StoreUnavailableError",
    "Trace",
    "UnknownDocumentError",
    "RetrievalSettings",
    "VectorIndexSettings",
    "prepare_model",
    "validate_question",
    "validate_top_k",
]

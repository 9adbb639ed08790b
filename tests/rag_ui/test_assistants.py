"""The server's collections: one opens (and may build its index) while questions to it wait only a
moment, and questions to the others not at all."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rag import IndexBusyError
from rag_ui.assistants import OPENING_WAIT_S, Assistants


class _Default:
    """Stands in for the default ``Assistant``: ``for_collection`` of "archive" builds until released."""

    collection = "news"

    def __init__(self) -> None:
        self.building = threading.Event()
        self.release = threading.Event()

    def for_collection(self, name: str, create: bool = False) -> str:
        if name == "archive":
            self.building.set()
            assert self.release.wait(30)
        return f"assistant of {name}"


def test_questions_to_a_collection_being_built_are_refused_after_a_moment_instead_of_holding_a_thread():
    # five clients asking a collection being built held the server's four question threads for the
    # whole build, and every other collection waited with them (0.26 s alone, 26.2 s: issue 26)
    default = _Default()
    assistants = Assistants(default)  # type: ignore[arg-type]
    with ThreadPoolExecutor(1) as pool:
        builder = pool.submit(assistants.get, "archive")
        assert default.building.wait(10)
        started = time.monotonic()
        with pytest.raises(IndexBusyError, match="'archive' is being opened"):
            assistants.get("archive")
        waited = time.monotonic() - started
        assert OPENING_WAIT_S <= waited < OPENING_WAIT_S + 5
        assert assistants.get("desk") == "assistant of desk"  # another collection opens meanwhile
        default.release.set()
        assert builder.result(10) == "assistant of archive"
    assert assistants.get("archive") == "assistant of archive"  # open now: no wait

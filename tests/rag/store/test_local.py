"""The local store beyond the contract: mapped files checked while in use."""

from __future__ import annotations

import os

from rag import Assistant
from rag.store.local import CURRENT


def test_a_mapped_file_touched_but_whole_is_mapped_again_not_repaired(tiny, caplog):
    settings, encoder = tiny
    assistant = Assistant.load(settings, encoder=encoder)
    before, embedded = assistant.ask("谁辞去了首席技术官?").passages, encoder.passages
    generation = (settings.index_dir / CURRENT).read_text()
    (segment,) = (settings.index_dir / "segments").iterdir()
    path = segment / "sentence_vectors.bin"
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 10**9))  # a backup tool's touch
    assert assistant.ask("谁辞去了首席技术官?").passages == before
    assert encoder.passages == embedded and (settings.index_dir / CURRENT).read_text() == generation
    assert "sentence_vectors.bin changed while in use" in caplog.text and "repairing" not in caplog.text

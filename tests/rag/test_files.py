"""File helpers: an atomic write leaves the old file or the new one and no temporary file; checksums."""

from __future__ import annotations

import hashlib

import pytest

from rag import files
from rag.files import file_sha256, sha256_bytes, write_atomic


def test_an_atomic_write_replaces_the_file_and_creates_its_folder(tmp_path):
    path = tmp_path / "new" / "state.json"
    write_atomic(path, b"one")
    write_atomic(path, b"two")
    assert path.read_bytes() == b"two" and [p.name for p in path.parent.iterdir()] == ["state.json"]


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    write_atomic(path, b"old")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_checksums_of_bytes_and_files_agree(tmp_path):
    data = b"x" * (3 << 20)  # longer than the 1 MB blocks a file is read in
    (tmp_path / "big").write_bytes(data)
    assert file_sha256(tmp_path / "big") == sha256_bytes(data) == hashlib.sha256(data).hexdigest()

"""The prepared model folder's check, on a folder made here (no model): every file the runtime reads
is listed with its size and checksum, and the adapter and the reader it was made with must be the
package's; anything else is ModelMissingError saying how to prepare it."""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from rag.errors import ModelMissingError
from rag.files import file_sha256
from rag.model import package_tokenizer_file
from rag.prepared import ADAPTER_FILE, READER_FILE, RUNTIME_FILES, STAMP, TOKENIZER_FILE, PreparedModel, load_tokenizer, read_stamp


@pytest.fixture()
def folder(tmp_path):
    """A folder that passes the check: each runtime file holds 2 kB of its own name."""
    for name in RUNTIME_FILES:
        (tmp_path / name).write_bytes(name.encode().ljust(2048, b"."))
    stamp = {
        "model_id": "toy", "sha256": "ab" * 32, "dimension": 8,
        "adapter_sha256": file_sha256(ADAPTER_FILE), "reader_sha256": file_sha256(READER_FILE),
        "files": {name: {"bytes": 2048, "sha256": file_sha256(tmp_path / name)} for name in RUNTIME_FILES},
    }  # fmt: skip
    (tmp_path / STAMP).write_text(json.dumps(stamp))
    return tmp_path


def _stamp(folder, **changes):
    stamp = json.loads((folder / STAMP).read_text())
    (folder / STAMP).write_text(json.dumps(stamp | changes))


def test_a_complete_folder_passes_and_says_what_model_it_holds(folder):
    assert read_stamp(folder, verify=True) == PreparedModel(folder, "toy", "ab" * 32, 8)


def test_a_missing_folder_says_how_to_prepare_it(tmp_path):
    with pytest.raises(ModelMissingError, match=r"not prepared at .*: run `rag model`"):
        read_stamp(tmp_path / "nothing")


@pytest.mark.parametrize("name", ["query.onnx", "tokenizer.json", "word_embeddings.npy", "reader.int8.onnx"])
def test_a_truncated_or_missing_file_is_found_by_its_size(folder, name):
    (folder / name).write_bytes(b"cut")
    with pytest.raises(ModelMissingError, match=f"{name} is missing or truncated: run `rag model`"):
        read_stamp(folder)
    (folder / name).unlink()
    with pytest.raises(ModelMissingError, match=f"{name} is missing or truncated"):
        read_stamp(folder)


def test_a_changed_file_of_the_same_size_is_found_only_by_its_checksum(folder):
    data = bytearray((folder / "tokenizer.json").read_bytes())
    data[100] ^= 0xFF
    (folder / "tokenizer.json").write_bytes(bytes(data))
    read_stamp(folder)  # loading checks sizes only: it does not read whole files
    with pytest.raises(ModelMissingError, match="does not match its checksum"):
        read_stamp(folder, verify=True)


@pytest.mark.parametrize("text", ['{"model_id": null}', "not json", ""])
def test_a_damaged_stamp_is_reported_with_the_fix(folder, text):
    (folder / STAMP).write_text(text)
    with pytest.raises(ModelMissingError, match="damaged or outdated prepared.json: run `rag model`"):
        read_stamp(folder)


def test_a_folder_made_with_another_adapter_or_reader_is_stale(folder):
    _stamp(folder, adapter_sha256="0" * 64)
    with pytest.raises(ModelMissingError, match="lacks the current query adapter"):
        read_stamp(folder)
    _stamp(folder, adapter_sha256=file_sha256(ADAPTER_FILE), reader_sha256="0" * 64)
    with pytest.raises(ModelMissingError, match="lacks the current reader"):
        read_stamp(folder)


def test_a_folder_prepared_before_a_runtime_file_existed_is_stale(folder):
    stamp = json.loads((folder / STAMP).read_text())
    del stamp["files"]["reader.json"]
    (folder / STAMP).write_text(json.dumps(stamp))
    with pytest.raises(ModelMissingError, match="lacks reader.json: run `rag model`"):
        read_stamp(folder)


def test_the_tokenizer_is_parsed_once_for_all_callers_and_again_when_prepared_again(tmp_path):
    shutil.copyfile(package_tokenizer_file(), tmp_path / TOKENIZER_FILE)
    with ThreadPoolExecutor(3) as pool:  # callers at once wait for one parse
        first, *others = pool.map(lambda _: load_tokenizer(tmp_path), range(3))
    assert all(other is first for other in others)
    assert first.truncation is None and first.padding is None  # callers cut and pad themselves
    stat = (tmp_path / TOKENIZER_FILE).stat()
    os.utime(tmp_path / TOKENIZER_FILE, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    again = load_tokenizer(tmp_path)
    assert again is not first
    assert again.encode("谁").ids == first.encode("谁").ids

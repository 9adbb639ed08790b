"""The project's errors: one base class, the Python families callers already catch, and one kind
each, which the CLI and the HTTP API turn into exit codes and statuses."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import rag
from rag import errors
from rag.errors import ErrorKind, RagError

ERRORS = [cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, Exception)]


def test_every_error_is_a_rag_error_exported_by_the_facade():
    assert {cls.__name__ for cls in ERRORS} <= set(rag.__all__)
    assert all(issubclass(cls, RagError) for cls in ERRORS)


def test_bad_input_is_a_value_error_and_an_unknown_name_a_lookup_error():
    assert issubclass(errors.InvalidQuestionError, ValueError) and issubclass(errors.DocumentError, ValueError)
    assert issubclass(errors.InvalidCollectionError, ValueError) and issubclass(errors.DocumentTooLargeError, errors.DocumentError)
    assert issubclass(errors.UnknownDocumentError, LookupError) and issubclass(errors.UnknownCollectionError, LookupError)


def test_each_error_has_the_kind_its_callers_answer_with():
    kinds = {cls.__name__: cls.kind for cls in ERRORS}
    assert kinds == {
        "RagError": ErrorKind.FAILURE, "InvalidQuestionError": ErrorKind.BAD_INPUT, "DocumentError": ErrorKind.BAD_INPUT,
        "DocumentTooLargeError": ErrorKind.TOO_LARGE, "CancelledError": ErrorKind.FAILURE,
        "UnknownDocumentError": ErrorKind.NOT_FOUND, "InvalidCollectionError": ErrorKind.BAD_INPUT,
        "UnknownCollectionError": ErrorKind.NOT_FOUND, "ModelMissingError": ErrorKind.FAILURE,
        "IndexCorruptError": ErrorKind.FAILURE, "IndexBusyError": ErrorKind.BUSY, "StorageError": ErrorKind.FAILURE,
        "StoreUnavailableError": ErrorKind.UNAVAILABLE, "ConcurrentWriteError": ErrorKind.BUSY,
    }  # fmt: skip


def test_every_error_type_is_raised_somewhere():
    """A type nothing raises is dead code that callers would still catch."""
    source = "\n".join(path.read_text(encoding="utf-8") for path in Path(rag.__file__).parent.rglob("*.py"))
    for cls in ERRORS:
        if cls is not RagError:
            assert re.search(rf"(?<!class ){cls.__name__}\(", source), f"{cls.__name__} is never raised"

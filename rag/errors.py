"""The project's exceptions: every error a user can cause or fix has its own type and a message saying what to do.

Each type says what kind of problem it is (``ErrorKind``), once, here: the CLI turns the kind into its
exit code and the HTTP API into its status, so the two never classify an error differently.
"""

from __future__ import annotations

from enum import Enum
from typing import ClassVar


class ErrorKind(Enum):
    BAD_INPUT = "bad input"  # the caller can fix the request: CLI exit 2, HTTP 400
    NOT_FOUND = "not found"  # an unknown document or collection: CLI exit 2, HTTP 404
    TOO_LARGE = "too large"  # a file over the limit: CLI exit 2, HTTP 413
    BUSY = "busy"  # another writer holds the collection: try again later (HTTP 503 with Retry-After)
    UNAVAILABLE = "unavailable"  # the configured store cannot be reached (HTTP 503)
    FAILURE = "failure"  # the installation or the machine: CLI exit 1, HTTP 500


class RagError(Exception):
    """Base class of every error raised on purpose by this package."""

    kind: ClassVar[ErrorKind] = ErrorKind.FAILURE


class InvalidQuestionError(RagError, ValueError):
    """The question or ``top_k`` is unusable: empty, too long, control characters, not an int …"""

    kind = ErrorKind.BAD_INPUT


class DocumentError(RagError, ValueError):
    """A document cannot be added: unreadable, not UTF-8, empty, too large, a duplicate …"""

    kind = ErrorKind.BAD_INPUT


class DocumentTooLargeError(DocumentError):
    """A file over the size limit (the HTTP API answers 413 for it)."""

    kind = ErrorKind.TOO_LARGE


class CancelledError(RagError):
    """A long write was cancelled before it committed; nothing changed."""


class UnknownDocumentError(RagError, LookupError):
    """No document of the collection has this id."""

    kind = ErrorKind.NOT_FOUND


class InvalidCollectionError(RagError, ValueError):
    """A collection name that is not a slug, or a change the collection does not allow."""

    kind = ErrorKind.BAD_INPUT


class UnknownCollectionError(RagError, LookupError):
    """No collection has this name (yet: the first ``add`` creates one)."""

    kind = ErrorKind.NOT_FOUND


class ModelMissingError(RagError):
    """The embedding model has not been prepared on this machine, or its files are damaged."""


class IndexCorruptError(RagError):
    """An index file is truncated, altered or unreadable."""


class IndexBusyError(RagError):
    """Another process holds the collection's writer lock for longer than we wait."""

    kind = ErrorKind.BUSY


class StorageError(RagError):
    """Saving failed (disk full, read-only folder …); nothing was changed."""


class StoreUnavailableError(RagError):
    """The configured store (a Milvus URI) is malformed or cannot be reached."""

    kind = ErrorKind.UNAVAILABLE


class ConcurrentWriteError(RagError):
    """Another writer changed the collection while this change was made (a store shared by several
    hosts): nothing was published; the change can be made again."""

    kind = ErrorKind.BUSY

"""The project's exceptions: every error a user can cause or fix has its own type and a message saying what to do."""

from __future__ import annotations


class RagError(Exception):
    """Base class of every error raised on purpose by this package."""


class InvalidQuestionError(RagError, ValueError):
    """The question or ``top_k`` is unusable: empty, too long, control characters, not an int …"""


class DocumentError(RagError, ValueError):
    """A document cannot be added: unreadable, not UTF-8, empty, too large, a duplicate …"""


class DocumentTooLargeError(DocumentError):
    """A file over the size limit (the HTTP API answers 413 for it)."""


class CancelledError(RagError):
    """A long write was cancelled before it committed; nothing changed."""


class UnknownDocumentError(RagError, LookupError):
    """No document of the collection has this id."""


class InvalidCollectionError(RagError, ValueError):
    """A collection name that is not a slug, or a change the collection does not allow."""


class UnknownCollectionError(RagError, LookupError):
    """No collection has this name (yet: the first ``add`` creates one)."""


class ModelMissingError(RagError):
    """The embedding model has not been prepared on this machine, or its files are damaged."""


class IndexMissingError(RagError):
    """No index has been built yet."""


class IndexCorruptError(RagError):
    """An index file is truncated, altered or unreadable."""


class IndexBusyError(RagError):
    """Another process holds the collection's writer lock for longer than we wait."""


class StorageError(RagError):
    """Saving failed (disk full, read-only folder …); nothing was changed."""


class StoreUnavailableError(RagError):
    """The configured store (a Milvus URI) is malformed or cannot be reached."""

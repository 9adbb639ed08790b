"""The project's exceptions: every error a user can cause or fix has its own type and a message saying what to do."""

from __future__ import annotations


class RagError(Exception):
    """Base class of every error raised on purpose by this package."""


class InvalidQuestionError(RagError, ValueError):
    """The question is empty, whitespace only or too long."""


class DocumentError(RagError, ValueError):
    """A document cannot be added: unreadable, not UTF-8, empty, too large or already present."""


class ModelMissingError(RagError):
    """The embedding model has not been prepared on this machine."""


class IndexMissingError(RagError):
    """No index has been built yet."""


class IndexCorruptError(RagError):
    """An index file is truncated, altered or unreadable."""

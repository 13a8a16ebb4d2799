"""The one error the local Hub's store and handlers raise: it carries the HTTP answer."""

from __future__ import annotations


class StoreError(Exception):
    """A request the server refuses; ``status`` is the HTTP status, ``code`` the Hub's ``X-Error-Code`` (if any).

    The codes are the ones huggingface_hub maps to its exceptions: ``RepoNotFound``, ``RevisionNotFound``,
    ``EntryNotFound``.
    """

    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code

"""One exception hierarchy: every error a user can cause is a TgfeedError.

Each carries a one-line message and an optional hint saying how to fix it;
the CLI prints both and exits non-zero (a traceback only with ``-v``).
"""

from __future__ import annotations


class TgfeedError(Exception):
    """Base of every error tgfeed reports to a user."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(TgfeedError):
    """The configuration is invalid; ``problems`` lists every one of them."""

    def __init__(
        self, message: str, *, problems: list[str] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems or [message]


class StoreError(TgfeedError):
    """The article store cannot be opened or written."""


class IngestError(TgfeedError):
    """One input item (page, line, row) could not become an article."""


class RenderError(TgfeedError):
    """A feed, page or email could not be rendered."""


class MailError(TgfeedError):
    """Mail could not be delivered or queued."""

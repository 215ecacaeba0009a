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


class TemporaryMailError(MailError):
    """The server or the network said "not now" (4xx, dropped connection, timeout).

    ``connection`` is True when no reply about the message itself was received
    (refused connection, disconnect, timeout): the relay is down, not the address.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        connection: bool = False,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.code = code
        self.connection = connection


class PermanentMailError(MailError):
    """The server refused this message or address for good (5xx)."""

    def __init__(self, message: str, *, code: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


class SubscriberError(TgfeedError):
    """An invalid email address, or an unknown subscriber."""


class TokenError(TgfeedError):
    """A confirmation or unsubscribe link's token is malformed, forged or expired.

    ``reason`` is ``"invalid"`` (malformed or forged) or ``"expired"``.
    """

    def __init__(self, message: str, *, reason: str = "invalid", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class InboxError(TgfeedError):
    """The bounce/unsubscribe mailbox cannot be read, or a message in it is unreadable."""

"""What the inbox job needs from a mailbox, Maildir or IMAP alike (blocking
calls: the job runs them in a worker thread, never touching the store there)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Fetched:
    ref: str  # where the message is: a Maildir file name, an IMAP UID
    raw: bytes
    error: str = ""  # it could not be read


class Mailbox(Protocol):
    name: str  # maildir:<path> | imap://user@host:port/folder

    def open(self) -> None: ...

    def fetch(self, limit: int) -> tuple[list[Fetched], int]: ...

    def done(self, ref: str) -> None: ...

    def close(self) -> None: ...

"""The outbox backend, the embedded default: every message becomes a file in a
Maildir (``[mail] outbox_dir``), one per recipient, with ``Return-Path`` and
``Delivered-To`` in front as a local delivery agent would write them. Any mail
client can open it; nothing leaves the machine."""

from __future__ import annotations

import mailbox
from pathlib import Path

from ..errors import TemporaryMailError


class OutboxMailer:
    concurrency = 1

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        self._box: mailbox.Maildir | None = None

    def _maildir(self) -> mailbox.Maildir:
        if self._box is None:
            try:
                self._box = mailbox.Maildir(self.path, create=True)
            except OSError as exc:
                raise TemporaryMailError(
                    f"{self.path}: cannot open the outbox: {exc.strerror}", connection=True
                ) from exc
        return self._box

    async def send(self, envelope_from: str, recipients: list[str], message: bytes) -> str:
        box = self._maildir()
        body = message.replace(b"\r\n", b"\n")
        keys = []
        try:
            for rcpt in recipients:
                head = f"Return-Path: <{envelope_from}>\nDelivered-To: {rcpt}\n".encode("ascii")
                keys.append(box.add(head + body))
        except OSError as exc:
            raise TemporaryMailError(
                f"{self.path}: cannot write to the outbox: {exc.strerror}", connection=True
            ) from exc
        return "250 queued in the outbox as " + ", ".join(keys)

    async def aclose(self) -> None:
        self._box = None

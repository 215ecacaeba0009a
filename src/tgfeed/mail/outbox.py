"""The outbox backend, the embedded default: every message becomes a file in a
Maildir (``[mail] outbox_dir``), one per recipient, with ``Return-Path`` and
``Delivered-To`` in front as a local delivery agent would write them. Any mail
client can open it; nothing leaves the machine."""

from __future__ import annotations

import mailbox
import shutil
import tempfile
from pathlib import Path

from ..errors import TemporaryMailError


def make_maildir(path: Path) -> None:
    """Create the Maildir at ``path`` whole: its ``tmp``, ``new`` and ``cur`` are made
    in a staging folder renamed into place, so a mail client (or a second process)
    never sees the folder without them. An existing Maildir gets what it lacks."""
    if path.is_dir():
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(mode=0o700, exist_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))  # mode 0700
    for sub in ("tmp", "new", "cur"):
        (staging / sub).mkdir(mode=0o700)
    try:
        staging.rename(path)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not path.is_dir():  # not a racing process that made it first
            raise
        make_maildir(path)


class OutboxMailer:
    concurrency = 1

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        self._box: mailbox.Maildir | None = None

    def _maildir(self) -> mailbox.Maildir:
        if self._box is None:
            try:
                make_maildir(self.path)
                self._box = mailbox.Maildir(self.path, create=False)
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

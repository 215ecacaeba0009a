"""An IMAP folder over TLS (the only module that imports imaplib).

Unprocessed messages are the folder's UNSEEN ones, fetched with ``BODY.PEEK[]``
(which does not mark them seen); a processed one gets ``\\Seen`` and, with
``processed_folder``, is moved there (``MOVE``, or ``COPY`` + expunge on servers
without it). Blocking: the job calls it from a worker thread.
"""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import InboxError
from .source import Fetched

T = TypeVar("T")


def quote(name: str) -> str:
    """An IMAP quoted string for a folder name."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapBox:
    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        *,
        folder: str = "INBOX",
        processed_folder: str | None = None,
        ca_file: Path | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.user = host, port, user
        self._password = password
        self.folder = folder
        self.processed_folder = processed_folder
        self.ca_file = ca_file
        self.timeout = timeout
        self.name = f"imap://{user}@{host}:{port}/{folder}"
        self._conn: imaplib.IMAP4_SSL | None = None
        self._caps: set[str] = set()

    def _call(self, what: str, fn: Callable[..., tuple[str, Any]], *args: Any) -> Any:
        try:
            typ, data = fn(*args)
        except (imaplib.IMAP4.error, OSError) as exc:
            said = exc.args[0] if exc.args else exc
            text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(exc)
            raise InboxError(
                f"{self.name}: {what} failed: {text}",
                hint="check [mail.inbox] host, port, user and the password",
            ) from exc
        if typ != "OK":
            detail = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
            raise InboxError(f"{self.name}: {what} refused: {detail or typ}")
        return data

    def open(self) -> None:
        try:
            ctx = ssl.create_default_context()
            if self.ca_file is not None:
                ctx.load_verify_locations(cafile=str(self.ca_file))
            self._conn = imaplib.IMAP4_SSL(
                self.host, self.port, ssl_context=ctx, timeout=self.timeout
            )
        except (OSError, ssl.SSLError, imaplib.IMAP4.error) as exc:
            raise InboxError(
                f"{self.name}: cannot connect: {exc}",
                hint="IMAP over TLS (port 993); for a private CA set [mail.inbox] ca_file",
            ) from exc
        conn = self._conn
        self._call("login", conn.login, self.user, self._password)
        # What the server offers once logged in (the greeting may list less).
        caps = self._call("CAPABILITY", conn.capability)
        self._caps = set((caps[0] or b"").decode("ascii", "replace").upper().split())
        self._call(f"opening folder {self.folder!r}", conn.select, quote(self.folder))
        if self.processed_folder:
            conn.create(quote(self.processed_folder))  # NO when it exists: fine

    @property
    def conn(self) -> imaplib.IMAP4_SSL:
        if self._conn is None:
            raise InboxError(f"{self.name}: not connected")
        return self._conn

    def fetch(self, limit: int) -> tuple[list[Fetched], int]:
        data = self._call("SEARCH", self.conn.uid, "SEARCH", None, "UNSEEN")
        uids = [u.decode("ascii") for u in (data[0] or b"").split()]
        out: list[Fetched] = []
        for uid in uids[:limit]:
            parts = self._call(f"FETCH {uid}", self.conn.uid, "FETCH", uid, "(BODY.PEEK[])")
            raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) == 2), None)
            if raw is None:
                continue  # expunged meanwhile
            out.append(Fetched(uid, bytes(raw)))
        return out, max(0, len(uids) - limit)

    def done(self, ref: str) -> None:
        conn = self.conn
        self._call(f"STORE {ref}", conn.uid, "STORE", ref, "+FLAGS", "(\\Seen)")
        if not self.processed_folder:
            return
        target = quote(self.processed_folder)
        if "MOVE" in self._caps:
            self._call(f"MOVE {ref}", conn.uid, "MOVE", ref, target)
            return
        self._call(f"COPY {ref}", conn.uid, "COPY", ref, target)
        self._call(f"STORE {ref}", conn.uid, "STORE", ref, "+FLAGS", "(\\Deleted)")
        if "UIDPLUS" in self._caps:
            self._call("EXPUNGE", conn.uid, "EXPUNGE", ref)
        else:
            self._call("EXPUNGE", conn.expunge)

    def close(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            conn.close()
            conn.logout()
        except (imaplib.IMAP4.error, OSError):
            pass

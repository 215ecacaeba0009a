"""A Maildir that an MTA delivers the list's bounces and unsubscribe requests into.

Unprocessed messages are those in ``new/`` and those in ``cur/`` without the
``S`` (seen) flag. A processed message is renamed into ``cur/`` with ``S`` added,
or into the Maildir++ folder ``.<processed_folder>/cur/``: a rename, atomic, the
bytes untouched (Maildir's own rules, so any mail client shows the same state).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InboxError
from .source import Fetched


def _split(name: str) -> tuple[str, str]:
    """``1700.M1P2.host:2,FS`` → (``1700.M1P2.host``, ``FS``)."""
    base, sep, info = name.partition(":2,")
    return base, info if sep else ""


class MaildirBox:
    """The Maildir at ``path`` (it must exist: the MTA creates it)."""

    def __init__(self, path: Path, processed_folder: str | None = None) -> None:
        self.path = path
        self.processed_folder = processed_folder
        self.name = f"maildir:{path}"

    def open(self) -> None:
        for sub in ("new", "cur"):
            if not (self.path / sub).is_dir():
                raise InboxError(
                    f"mail.inbox.maildir: {self.path} is not a Maildir (no {sub}/ folder)",
                    hint="point maildir at the folder the MTA delivers into (cur/, new/, tmp/)",
                )

    def _pending(self) -> list[str]:
        refs: list[str] = []
        for sub in ("new", "cur"):
            try:
                names = sorted(os.listdir(self.path / sub))
            except OSError as exc:
                raise InboxError(f"{self.path / sub}: cannot list: {exc.strerror}") from exc
            for name in names:
                if name.startswith("."):
                    continue
                if sub == "cur" and "S" in _split(name)[1]:
                    continue
                refs.append(f"{sub}/{name}")
        return refs

    def fetch(self, limit: int) -> tuple[list[Fetched], int]:
        """Up to ``limit`` unprocessed messages, oldest first, and how many remain."""
        refs = self._pending()
        out: list[Fetched] = []
        for ref in refs[:limit]:
            try:
                out.append(Fetched(ref, (self.path / ref).read_bytes()))
            except FileNotFoundError:  # taken by someone else meanwhile
                continue
            except OSError as exc:
                out.append(Fetched(ref, b"", error=f"cannot read {ref}: {exc.strerror}"))
        return out, max(0, len(refs) - limit)

    def done(self, ref: str) -> None:
        """Mark one message processed (seen, and moved when so configured)."""
        base, flags = _split(ref.split("/", 1)[1])
        flags = "".join(sorted(set(flags) | {"S"}))
        target = self.path
        if self.processed_folder:
            target = self.path / f".{self.processed_folder}"
            for sub in ("tmp", "new", "cur"):
                (target / sub).mkdir(parents=True, exist_ok=True)
            (target / "maildirfolder").touch(exist_ok=True)
        try:
            os.replace(self.path / ref, target / "cur" / f"{base}:2,{flags}")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise InboxError(
                f"{self.path / ref}: cannot mark it processed: {exc.strerror}"
            ) from exc

    def close(self) -> None:
        return None

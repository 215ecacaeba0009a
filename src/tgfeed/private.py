"""Files tgfeed creates are private by default; files it reads secrets from must be.

At start-up the process umask becomes ``027`` (`apply_umask`): the store, the
outbox, previews and the generated signing key are readable by tgfeed's user
(and, for all but the key, its group) only. The published feeds are the one
public exception: they are written ``0644`` in folders made ``0755``
(`public_mkdir`), so a web server running as another user can serve them.

A secret file (``*_file``, the DKIM key) that other users can read is refused,
with the ``chmod`` that fixes it (`check_private`).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import stat
from pathlib import Path

from .errors import ConfigError

UMASK = 0o027
PUBLIC_DIR_MODE = 0o755
PRIVATE_FILE_MODE = 0o640  # what tgfeed's umask leaves of a data file: owner rw, group r


def apply_umask() -> int:
    """Set the process umask to `UMASK`; the previous one."""
    return os.umask(UMASK)


def check_private(path: Path, what: str) -> None:
    """Raise `ConfigError` when ``path`` exists and other users may read or write it."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return  # the reader reports a missing or unreadable file itself
    if mode & 0o007:
        fix = f"chmod o-rwx {shlex.quote(str(path))}"
        raise ConfigError(
            f"{what}: {path} can be read by other users (mode {mode:04o}); fix: {fix}",
            hint=f"{fix} (tgfeed refuses a secret file other users can read)",
        )


def public_mkdir(path: Path) -> None:
    """``path`` and its missing parents, each created ``0755`` whatever the umask."""
    missing: list[Path] = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    path.mkdir(parents=True, exist_ok=True)
    for d in missing:
        with contextlib.suppress(OSError):  # made by a racing process: its mode is its own
            os.chmod(d, PUBLIC_DIR_MODE)

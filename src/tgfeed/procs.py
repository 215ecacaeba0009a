"""Who holds a lease or a temp file, and whether that process still runs.

A holder is ``host:pid`` (optionally ``:tag``); on this host a dead pid means a
crashed holder whose lease or temp files may be taken over at once. A holder on
another host is trusted until its lease expires.
"""

from __future__ import annotations

import os
import socket


def holder_id(tag: str | None = None) -> str:
    """This process as a lease holder: ``host:pid`` (``host:pid:tag``)."""
    base = f"{socket.gethostname()}:{os.getpid()}"
    return f"{base}:{tag}" if tag else base


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def holder_alive(holder: str) -> bool:
    """False only for a holder on this host whose process is gone."""
    host, _, rest = holder.partition(":")
    pid = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    return pid_alive(int(pid))

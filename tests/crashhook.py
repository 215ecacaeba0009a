"""Run a tgfeed command and SIGKILL it at its N-th file operation under a folder.

Used by the crash tests as ``python -m tests.crashhook ROOT AT COUNT_FILE -- tgfeed args…``:
every ``os.open`` / ``os.write`` / ``os.fsync`` / ``os.replace`` / ``os.unlink`` /
``os.rmdir`` / ``os.mkdir`` that touches ``ROOT`` counts as one operation; at
operation ``AT`` the process kills itself with SIGKILL — no ``finally``, no
``atexit``, exactly as ``kill -9`` or the OOM killer would. A write chosen as the
kill point writes half its bytes first. ``AT = 0`` never kills: the run only counts
its operations into ``COUNT_FILE``.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from typing import Any


def arm(root: str, at: int, count_file: str | None) -> None:
    root = os.path.realpath(root)
    lock = threading.Lock()
    count = 0

    def hit() -> bool:
        """Count one operation; True when it is the one to die at."""
        nonlocal count
        with lock:
            count += 1
            return count == at

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def under(path: Any) -> bool:
        try:
            p = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return p == root or p.startswith(root + os.sep)

    def fd_under(fd: int) -> bool:
        try:
            return under(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            return False

    real = {
        name: getattr(os, name)
        for name in ("open", "write", "fsync", "replace", "unlink", "rmdir", "mkdir")
    }

    def on_path(name: str) -> Any:
        fn = real[name]

        def wrapper(path: Any, *args: Any, **kw: Any) -> Any:
            if under(path) and hit():
                die()
            return fn(path, *args, **kw)

        return wrapper

    def write(fd: int, data: Any) -> int:
        if fd_under(fd) and hit():
            view = memoryview(data)
            real["write"](fd, view[: len(view) // 2])
            die()
        n: int = real["write"](fd, data)
        return n

    def fsync(fd: int) -> None:
        if fd_under(fd) and hit():
            die()
        real["fsync"](fd)

    def replace(src: Any, dst: Any, *args: Any, **kw: Any) -> None:
        if (under(src) or under(dst)) and hit():
            die()
        real["replace"](src, dst, *args, **kw)

    os.open = on_path("open")  # type: ignore[assignment]
    os.unlink = on_path("unlink")  # type: ignore[assignment]
    os.rmdir = on_path("rmdir")  # type: ignore[assignment]
    os.mkdir = on_path("mkdir")  # type: ignore[assignment]
    os.write = write  # type: ignore[assignment]
    os.fsync = fsync
    os.replace = replace  # type: ignore[assignment]

    if count_file:

        def report() -> None:
            with open(count_file, "w", encoding="ascii") as f:
                f.write(str(count))

        atexit.register(report)


def main() -> None:
    root, at, count_file, sep, *args = sys.argv[1:]
    assert sep == "--"
    arm(root, int(at), count_file or None)
    from tgfeed.cli import main as tgfeed

    try:
        tgfeed(args)
    except SystemExit as exc:
        code = exc.code
        sys.exit(code)


if __name__ == "__main__":
    main()

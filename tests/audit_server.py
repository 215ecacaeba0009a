"""`python -m tests.audit_server CONFIG PORT MARKER LOG`: tgfeed's web app under
uvicorn with a Python audit hook (PEP 578) that writes to LOG every filesystem,
process or database-open event whose arguments contain MARKER.

The security tests put MARKER in every path parameter, query and header they
send; an empty log (but for the positive control written at start-up) proves no
request value reached ``open``, ``os.*``, ``shutil.*`` or ``sqlite3.connect``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

WATCHED = (
    "open",
    "os.",
    "shutil.",
    "glob.",
    "pathlib.",
    "sqlite3.connect",
    "subprocess.",
    "tempfile.",
)


def main() -> None:
    config_path, port, marker, log_path = sys.argv[1:]
    log = open(log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if not event.startswith(WATCHED):
            return
        try:
            text = repr(args)
        except Exception:
            return
        if marker in text:
            log.write(f"{event} {text[:300]}\n")

    sys.addaudithook(hook)
    try:  # the positive control: proves the hook sees what it should
        open(f"/nonexistent/{marker}-control", encoding="utf-8")  # noqa: SIM115
    except OSError:
        pass

    import uvicorn

    from tgfeed.app import build_app
    from tgfeed.loader import load
    from tgfeed.web import create_app

    app = build_app(load(Path(config_path)))
    uvicorn.run(
        create_app(app, scheduler=False), host="127.0.0.1", port=int(port), log_level="warning"
    )


if __name__ == "__main__":
    main()

"""bench/serve: responses/s of ``tgfeed serve``'s app next to a bare Starlette app,
both on the same uvicorn settings.

Three loads, each for ``seconds``:

* ``/feeds/all.rss`` with its ``If-None-Match`` (304s);
* ``/feeds/all.rss`` plain (200s with the whole body, no compression);
* every published feed in turn, each with its own gzip ``If-None-Match`` — what
  a crowd of feed readers polling the whole catalogue looks like (304s).

The bare app holds the same bytes and ETags in memory and does one dictionary
lookup and one header comparison: the floor for any Python app on this stack.
Each server runs in its own process pinned to CPU 0; the load comes from ``wrk``
(else a small asyncio client) in another process pinned to CPU 1.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.feeds import _pin, free_port, load, make_app

ROOT = Path(__file__).resolve().parents[1]
PATH = "/feeds/all.rss"
GZ = {"Accept-Encoding": "gzip"}


def child_serve(kind: str, port: int, db: Path, state: Path) -> None:
    """Run one server. ``state``: a folder with ``all.rss`` (the plain body) and
    ``etags.json`` (path → gzip ETag) that the bare app serves."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    if kind == "tgfeed":
        from tgfeed.web.server import create_app

        asgi: Any = create_app(make_app(db, state / "unused"), scheduler=False)
    else:
        body = (state / "all.rss").read_bytes()
        etags: dict[str, str] = json.loads((state / "etags.json").read_text())

        async def feed(request: Request) -> Response:
            etag = etags.get(request.url.path, '"bare"')
            if request.headers.get("if-none-match") == etag:
                return Response(status_code=304, headers={"ETag": etag})
            return Response(body, media_type="application/rss+xml", headers={"ETag": etag})

        asgi = Starlette(routes=[Route("/feeds/{rest:path}", feed)])
    uvicorn.run(asgi, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- the rotating load ----------------------------------------------------------------


def _lua(requests: list[tuple[str, str]]) -> str:
    rows = ",\n".join(f"  {{{json.dumps(p)}, {json.dumps(e)}}}" for p, e in requests)
    return (
        f"local reqs = {{\n{rows}\n}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #reqs + 1\n"
        '  return wrk.format("GET", reqs[i][1], '
        '{["If-None-Match"] = reqs[i][2], ["Accept-Encoding"] = "gzip"})\n'
        "end\n"
    )


async def _rotate_client(port: int, requests: list[tuple[str, str]], seconds: float) -> int:
    """16 keep-alive connections cycling through ``requests``; answers counted."""
    raw = [
        (
            f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: {e}\r\n"
            "Accept-Encoding: gzip\r\n\r\n"
        ).encode()
        for p, e in requests
    ]
    done = 0
    end = time.perf_counter() + seconds

    async def conn(start: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = start
        while time.perf_counter() < end:
            writer.write(raw[i % len(raw)])
            head = await reader.readuntil(b"\r\n\r\n")
            m = re.search(rb"content-length: *(\d+)", head, re.I)
            if m and int(m[1]):
                await reader.readexactly(int(m[1]))
            done += 1
            i += 1
        writer.close()

    await asyncio.gather(*(conn(k * 37) for k in range(16)))
    return done


def rotate(port: int, requests: list[tuple[str, str]], seconds: float) -> float:
    """Requests/s cycling through every (path, ETag), from a process on CPU 1."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "requests.json"
        spec.write_text(json.dumps(requests))
        if shutil.which("wrk"):
            script = Path(tmp) / "rotate.lua"
            script.write_text(_lua(requests))
            cmd = [
                *_pin(1),
                "wrk",
                "-t1",
                "-c16",
                f"-d{max(1, round(seconds))}s",
                "-s",
                str(script),
                f"http://127.0.0.1:{port}/",
            ]
            text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            m = re.search(r"Requests/sec:\s*([\d.]+)", text)
            assert m, text
            return float(m[1])
        code = (
            "import asyncio,json,sys; from bench.serve import _rotate_client; "
            "print(asyncio.run(_rotate_client(int(sys.argv[1]), "
            "json.load(open(sys.argv[2])), float(sys.argv[3]))))"
        )
        cmd = [*_pin(1), sys.executable, "-c", code, str(port), str(spec), str(seconds)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout
        return int(out) / seconds


# -- one server -----------------------------------------------------------------------


def _feed_paths(opml: str) -> list[str]:
    rss = re.findall(r'xmlUrl="[a-z]+://[^/"]+(/feeds/[^"]+)\.rss"', opml)
    return [f"{p}.{fmt}" for p in rss for fmt in ("rss", "atom", "json")]


def measure(kind: str, db: Path, state: Path, seconds: float) -> dict[str, Any]:
    """Start one server and load it three ways; its figures and peak RSS. For
    ``tgfeed`` the body and the ETags it serves are written to ``state`` first."""
    import httpx

    port = free_port()
    cmd = [*_pin(0), sys.executable, "-m", "bench", "_serve", kind, str(port), str(db), str(state)]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    try:
        base = f"http://127.0.0.1:{port}"
        plain = {"Accept-Encoding": "identity"}
        for _ in range(600):
            try:
                first = httpx.get(base + PATH, timeout=60, headers=plain)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{kind} server did not start")
        if first.status_code != 200:
            raise RuntimeError(f"{kind} server: {PATH} answered {first.status_code}")
        t = time.perf_counter()
        if kind == "tgfeed":
            (state / "all.rss").write_bytes(first.content)
            paths = _feed_paths(httpx.get(base + "/feeds.opml", timeout=60).text)
            with httpx.Client(base_url=base, headers=GZ, timeout=60) as c:
                etags = {p: c.get(p).headers["etag"] for p in paths}
            (state / "etags.json").write_text(json.dumps(etags))
        else:
            etags = json.loads((state / "etags.json").read_text())
        first_pass = time.perf_counter() - t
        requests = list(etags.items())
        with httpx.Client(base_url=base, headers=GZ, timeout=60) as c:
            statuses = {c.get(p, headers={"If-None-Match": e}).status_code for p, e in requests}
        cond = {"If-None-Match": first.headers["etag"]}
        status = httpx.get(base + PATH, headers=cond).status_code
        load(port, PATH, cond, 2)  # warm up
        r304 = load(port, PATH, cond, seconds)
        r200 = load(port, PATH, plain, seconds)
        rall = rotate(port, requests, seconds)
        return {
            "r304": r304,
            "r200": r200,
            "r304_all": rall,
            "feeds_polled": len(requests),
            "first_pass_s": first_pass,
            "status304": status,
            "statuses_all": sorted(statuses),
            "bytes": len(first.content),
            "rss_mb": _hwm_mb(proc.pid),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run(db: Path, work: Path, seconds: float = 8.0, repeat: int = 2) -> dict[str, Any]:
    """Best of ``repeat`` for both servers, alternated (the machine may be shared)."""
    state = work / "serve-state"
    state.mkdir(exist_ok=True)
    best: dict[str, dict[str, Any]] = {}
    try:
        for _ in range(repeat):
            for kind in ("tgfeed", "bare"):
                got = measure(kind, db, state, seconds)
                old = best.get(kind)
                if old is None:
                    best[kind] = got
                else:
                    for k in ("r304", "r200", "r304_all", "rss_mb"):
                        old[k] = max(old[k], got[k])
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return best

"""bench/serve: server CPU per request under ``wrk``, all on 127.0.0.1.

Servers, each pinned to CPU 0 (the load, ``wrk -t1 -c16``, runs on CPU 1):

* ``tgfeed serve --no-scheduler`` — the real command, with a config file naming
  the bench store and the built folder (its defaults otherwise: access log as
  configured by default, output to /dev/null);
* a bare Starlette app under the same uvicorn options (no access log), holding the
  feed's bytes and ETag in memory: one lookup and one header comparison, the floor
  of any Python app on this stack;
* nginx (one worker) on the folder ``tgfeed build`` wrote, ``gzip_static on`` so
  precompressed ``.gz`` siblings are sent when they exist (else nginx compresses
  on the fly: the table says which), and the same bytes as a fixed file.

For each figure the server's CPU time (utime + stime from /proc, nginx's master and
worker together) is read before and after a run of wrk; µs per request = CPU / the
requests wrk completed. Figures are A/B pairs run back to back (tgfeed/bare,
nginx feed/nginx fixed file), min/median/max over the pairs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

from bench.feeds import _pin, free_port
from bench.pairs import pairs

ROOT = Path(__file__).resolve().parents[1]
PATH = "/feeds/all.rss"
TICK = os.sysconf("SC_CLK_TCK")


def child_bare(port: int, body_file: str, etag: str) -> None:
    """The bare Starlette app (``python -m bench _bare PORT BODY ETAG``)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from tgfeed.web.server import UVICORN_OPTIONS

    body = Path(body_file).read_bytes()

    async def feed(request: Request) -> Response:
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(body, media_type="application/rss+xml", headers={"ETag": etag})

    app = Starlette(routes=[Route("/feeds/{rest:path}", feed)])
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, **UVICORN_OPTIONS
    )


# -- CPU of a process tree ----------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its children still running (nginx's worker)."""
    total = 0.0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def hwm_mb(pid: int) -> float:
    best = 0.0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    best = max(best, int(line.split()[1]) / 1024)
        except OSError:
            pass
    return best


def wrk(port: int, path: str, headers: dict[str, str], seconds: float) -> int:
    """Requests wrk completed (non-2xx/3xx responses are an error)."""
    args = ["wrk", "-t1", "-c16", f"-d{max(1, round(seconds))}s"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    cmd = [*_pin(1), *args, f"http://127.0.0.1:{port}{path}"]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx responses" in text:
        raise RuntimeError(f"wrk: error responses from {path}:\n{text}")
    m = re.search(r"(\d+) requests in", text)
    assert m, text
    return int(m[1])


def per_request(
    pid: int, port: int, path: str, headers: dict[str, str], seconds: float
) -> dict[str, Any]:
    before = cpu_seconds(pid)
    t = time.perf_counter()
    n = wrk(port, path, headers, seconds)
    wall = time.perf_counter() - t
    cpu = cpu_seconds(pid) - before
    return {"cpu": cpu, "wall": wall, "requests": n, "us": 1e6 * cpu / n, "rps": n / wall}


# -- the servers ----------------------------------------------------------------------


def _wait(port: int, path: str, proc: subprocess.Popen[bytes]) -> Any:
    import httpx

    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited ({proc.returncode})")
        try:
            return httpx.get(
                f"http://127.0.0.1:{port}{path}",
                timeout=60,
                headers={"Accept-Encoding": "identity"},
            )
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


NGINX_CONF = """daemon off;
master_process on;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {work}/tmp-body;
    proxy_temp_path {work}/tmp-proxy;
    fastcgi_temp_path {work}/tmp-fastcgi;
    uwsgi_temp_path {work}/tmp-uwsgi;
    scgi_temp_path {work}/tmp-scgi;
    sendfile on;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /feeds/ {{
            types {{ application/rss+xml rss; application/atom+xml atom; application/feed+json json; }}
            default_type application/octet-stream;
            gzip on;
            gzip_types application/rss+xml application/atom+xml application/feed+json;
            gzip_static on;
            etag on;
        }}
        location = /fixed {{ default_type application/octet-stream; }}
    }}
}}
"""


class Server(NamedTuple):
    proc: subprocess.Popen[bytes]
    port: int
    etag: str  # of the plain /feeds/all.rss


def _env() -> dict[str, str]:
    path = [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}


def _start_tgfeed(db: Path, public: Path, state: Path, procs: list[Any]) -> tuple[Server, bytes]:
    """``tgfeed serve`` on a config naming the store and the built folder."""
    config = state / "config.toml"
    config.write_text(
        f'[store]\npath = "{db}"\n[feeds]\noutput_dir = "{public}"\n'
        f'[mail]\noutbox_dir = "{state / "outbox"}"\n',
        encoding="utf-8",
    )
    port = free_port()
    cmd = [sys.executable, "-m", "tgfeed", "--config", str(config), "serve"]
    cmd += ["--no-scheduler", "--host", "127.0.0.1", "--port", str(port)]
    quiet = subprocess.DEVNULL
    proc = subprocess.Popen([*_pin(0), *cmd], cwd=state, env=_env(), stdout=quiet, stderr=quiet)
    procs.append(proc)
    first = _wait(port, PATH, proc)
    return Server(proc, port, first.headers["etag"]), first.content


def _start_bare(state: Path, body: bytes, etag: str, procs: list[Any]) -> Server:
    (state / "all.rss").write_bytes(body)
    port = free_port()
    cmd = [sys.executable, "-m", "bench", "_bare", str(port), str(state / "all.rss"), etag]
    proc = subprocess.Popen([*_pin(0), *cmd], cwd=ROOT, env=_env())
    procs.append(proc)
    _wait(port, PATH, proc)
    return Server(proc, port, etag)


def _start_nginx(public: Path, state: Path, body: bytes, procs: list[Any]) -> tuple[Server, bool]:
    """nginx on the built folder, and ``/fixed``: the bytes a gzip request of the feed
    gets (its .gz sibling if there is one) as a plain file."""
    port = free_port()
    gz = (public / "feeds" / "all.rss.gz").exists()
    shutil.copyfile(public / "feeds" / ("all.rss.gz" if gz else "all.rss"), state / "fixed")
    (state / "root").mkdir()
    os.symlink(public / "feeds", state / "root" / "feeds")
    os.symlink(state / "fixed", state / "root" / "fixed")
    conf = state / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=state, port=port, root=state / "root"), "utf-8")
    ngx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([*_pin(0), ngx_bin, "-c", str(conf), "-p", str(state)])
    procs.append(proc)
    first = _wait(port, PATH, proc)
    if first.content != body:
        raise RuntimeError("nginx and tgfeed serve different bytes for " + PATH)
    return Server(proc, port, first.headers["etag"]), gz


def _figures(tg: Server, bare: Server, ngx: Server, seconds: float, n: int) -> dict[str, Any]:
    def m(s: Server, path: str, headers: dict[str, str]) -> Any:
        return lambda: per_request(s.proc.pid, s.port, path, headers, seconds)

    def ab(title: str, a: Any, b: Any) -> dict[str, Any]:
        _say(f"serve: {title}")
        return pairs(a, b, n, cpu="us", say=_say)

    for s in (tg, bare):
        wrk(s.port, PATH, {"If-None-Match": s.etag}, 1)  # warm up
    gzh = {"Accept-Encoding": "gzip"}
    return {
        "r304": ab(
            "304, tgfeed serve (A) vs bare Starlette (B)",
            m(tg, PATH, {"If-None-Match": tg.etag}),
            m(bare, PATH, {"If-None-Match": bare.etag}),
        ),
        "r304_nginx": ab(
            "304, tgfeed serve (A) vs nginx (B)",
            m(tg, PATH, {"If-None-Match": tg.etag}),
            m(ngx, PATH, {"If-None-Match": ngx.etag}),
        ),
        "r200gz": ab(
            "200 gzip, tgfeed serve (A) vs nginx gzip_static (B)",
            m(tg, PATH, gzh),
            m(ngx, PATH, gzh),
        ),
        "nginx_gz_fixed": ab(
            "200 gzip, nginx gzip_static (A) vs nginx fixed file, same bytes (B)",
            m(ngx, PATH, gzh),
            m(ngx, "/fixed", {}),
        ),
    }


def _stop(procs: list[subprocess.Popen[bytes]], nginx: subprocess.Popen[bytes] | None) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGQUIT if p is nginx else signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run(db: Path, work: Path, public: Path, *, seconds: float = 4.0, n: int = 3) -> dict[str, Any]:
    """Every serving figure for the built folder ``public`` of store ``db``."""
    state = work / "serve-state"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir()
    procs: list[subprocess.Popen[bytes]] = []
    ngx: Server | None = None
    try:
        tg, body = _start_tgfeed(db, public, state, procs)
        bare = _start_bare(state, body, tg.etag, procs)
        ngx, gz = _start_nginx(public, state, body, procs)
        out = _figures(tg, bare, ngx, seconds, n)
        out["gz_files"] = gz
        out["bytes"] = len(body)
        out["rss_mb"] = {
            k: hwm_mb(s.proc.pid) for k, s in (("tgfeed", tg), ("bare", bare), ("nginx", ngx))
        }
    finally:
        _stop(procs, ngx.proc if ngx else None)
        shutil.rmtree(state, ignore_errors=True)
    return out


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

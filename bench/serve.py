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
from typing import Any

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


def run(db: Path, work: Path, public: Path, *, seconds: float = 4.0, n: int = 3) -> dict[str, Any]:
    """Every serving figure for the built folder ``public`` of store ``db``."""
    import httpx

    state = work / "serve-state"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir()
    config = state / "config.toml"
    config.write_text(
        f'[store]\npath = "{db}"\n[feeds]\noutput_dir = "{public}"\n'
        f'[mail]\noutbox_dir = "{state / "outbox"}"\n',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH")])
        ),
    }
    procs: list[subprocess.Popen[bytes]] = []
    ngx: subprocess.Popen[bytes] | None = None
    out: dict[str, Any] = {}
    quiet = subprocess.DEVNULL
    try:
        tg_port = free_port()
        cmd = [sys.executable, "-m", "tgfeed", "--config", str(config), "serve"]
        cmd += ["--no-scheduler", "--host", "127.0.0.1", "--port", str(tg_port)]
        tg = subprocess.Popen([*_pin(0), *cmd], cwd=state, env=env, stdout=quiet, stderr=quiet)
        procs.append(tg)
        first = _wait(tg_port, PATH, tg)
        etag = first.headers["etag"]
        (state / "all.rss").write_bytes(first.content)
        gz_etag = httpx.get(
            f"http://127.0.0.1:{tg_port}{PATH}", headers={"Accept-Encoding": "gzip"}
        ).headers["etag"]

        bare_port = free_port()
        cmd = [sys.executable, "-m", "bench", "_bare", str(bare_port), str(state / "all.rss"), etag]
        bare = subprocess.Popen([*_pin(0), *cmd], cwd=ROOT, env=env)
        procs.append(bare)
        _wait(bare_port, PATH, bare)

        ngx_port = free_port()
        gz = (public / "feeds" / "all.rss.gz").exists()
        fixed = public / "feeds" / ("all.rss.gz" if gz else "all.rss")
        shutil.copyfile(fixed, state / "fixed")
        (state / "root").mkdir()
        os.symlink(public / "feeds", state / "root" / "feeds")
        os.symlink(state / "fixed", state / "root" / "fixed")
        (state / "nginx.conf").write_text(
            NGINX_CONF.format(work=state, port=ngx_port, root=state / "root"), encoding="utf-8"
        )
        ngx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
        ngx = subprocess.Popen(
            [*_pin(0), ngx_bin, "-c", str(state / "nginx.conf"), "-p", str(state)]
        )
        procs.append(ngx)
        ngx_first = _wait(ngx_port, PATH, ngx)
        if ngx_first.content != first.content:
            raise RuntimeError("nginx and tgfeed serve different bytes for " + PATH)
        ngx_etag = ngx_first.headers["etag"]

        say = _say
        for port in (tg_port, bare_port):
            wrk(port, PATH, {"If-None-Match": etag}, 1)  # warm up

        def m(pid: int, port: int, path: str, headers: dict[str, str]) -> Any:
            return lambda: per_request(pid, port, path, headers, seconds)

        say("serve: 304, tgfeed serve (A) vs bare Starlette (B)")
        out["r304"] = pairs(
            m(tg.pid, tg_port, PATH, {"If-None-Match": etag}),
            m(bare.pid, bare_port, PATH, {"If-None-Match": etag}),
            n,
            cpu="us",
            say=say,
        )
        say("serve: 304, tgfeed serve (A) vs nginx (B)")
        out["r304_nginx"] = pairs(
            m(tg.pid, tg_port, PATH, {"If-None-Match": etag}),
            m(ngx.pid, ngx_port, PATH, {"If-None-Match": ngx_etag}),
            n,
            cpu="us",
            say=say,
        )
        say("serve: 200 gzip, tgfeed serve (A) vs nginx gzip_static (B)")
        gzh = {"Accept-Encoding": "gzip"}
        out["r200gz"] = pairs(
            m(tg.pid, tg_port, PATH, gzh), m(ngx.pid, ngx_port, PATH, gzh), n, cpu="us", say=say
        )
        say("serve: 200 gzip, nginx gzip_static (A) vs nginx fixed file, same bytes (B)")
        out["nginx_gz_fixed"] = pairs(
            m(ngx.pid, ngx_port, PATH, gzh),
            m(ngx.pid, ngx_port, "/fixed", {}),
            n,
            cpu="us",
            say=say,
        )
        out["gz_files"] = gz
        out["gz_etag_differs"] = gz_etag != etag
        out["bytes"] = len(first.content)
        out["rss_mb"] = {
            "tgfeed": hwm_mb(tg.pid),
            "bare": hwm_mb(bare.pid),
            "nginx": hwm_mb(ngx.pid),
        }
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGQUIT if p is ngx else signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(state, ignore_errors=True)
    return out


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

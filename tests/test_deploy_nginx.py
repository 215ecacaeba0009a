"""deploy/nginx-tgfeed.conf, for real: nginx (not a daemon, on a free 127.0.0.1 port)
serves the files `build_feeds` wrote, with ETag/Last-Modified and 304s of its own,
and proxies everything else to a `tgfeed serve` process. Skipped where nginx is not
installed (`apt-get install nginx`)."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tgfeed.app import App
from tgfeed.jobs.feeds import build_feeds

from .conftest import ROOT, free_port

SITE_CONF = ROOT / "deploy" / "nginx-tgfeed.conf"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")

# nginx's own ETag: hex mtime - hex size (tgfeed's are content hashes).
NGINX_ETAG = re.compile(r'^"[0-9a-f]+-[0-9a-f]+"$')


def site_conf(public: Path, listen: int, upstream: int) -> str:
    """The shipped site, with only its address, root and upstream changed."""
    text = SITE_CONF.read_text(encoding="utf-8")
    swaps = [
        ("listen 80;", f"listen 127.0.0.1:{listen};"),
        ("root /var/lib/tgfeed/public;", f"root {public};"),
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream};"),
    ]
    for old, new in swaps:
        assert text.count(old) == 1, f"{SITE_CONF} no longer has {old!r}"
        text = text.replace(old, new)
    return text


def main_conf(tmp: Path, site: Path) -> str:
    mime = Path("/etc/nginx/mime.types")
    temps = "\n".join(
        f"    {kind}_temp_path {tmp / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
daemon off;
master_process off;
pid {tmp / "nginx.pid"};
error_log {tmp / "error.log"} warn;
events {{ worker_connections 64; }}
http {{
    {f"include {mime};" if mime.exists() else ""}
    default_type application/octet-stream;
    access_log off;
{temps}
    include {site};
}}
"""


@dataclasses.dataclass
class Stack:
    url: str
    tgfeed_url: str
    public: Path


def _wait(url: str, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"{what} did not start: {log.read_text(errors='replace')}")
        time.sleep(0.1)


@pytest.fixture
def stack(sample_app: App, tmp_path: Path) -> Iterator[Stack]:
    public = tmp_path / "public"
    build_feeds(sample_app)
    assert (public / "feeds" / "all.rss").is_file()

    tg_port, nx_port = free_port(), free_port()
    env = {**os.environ}
    env.pop("TGFEED_CONFIG", None)
    tg_log = tmp_path / "serve.log"
    with tg_log.open("wb") as out:
        tg = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tgfeed",
                "--config",
                str(tmp_path / "config.toml"),
                "serve",
                "--no-scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(tg_port),
            ],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    nx_dir = tmp_path / "nginx"
    nx_dir.mkdir()
    site = nx_dir / "tgfeed.conf"
    site.write_text(site_conf(public, nx_port, tg_port), encoding="utf-8")
    conf = nx_dir / "nginx.conf"
    conf.write_text(main_conf(nx_dir, site), encoding="utf-8")
    assert NGINX is not None
    check = subprocess.run(
        [NGINX, "-t", "-p", str(nx_dir), "-e", str(nx_dir / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    nx_log = nx_dir / "error.log"
    nx = subprocess.Popen(
        [NGINX, "-p", str(nx_dir), "-e", str(nx_log), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(f"http://127.0.0.1:{tg_port}/healthz", tg, "tgfeed serve", tg_log)
        _wait(f"http://127.0.0.1:{nx_port}/feeds.opml", nx, "nginx", nx_log)
        yield Stack(f"http://127.0.0.1:{nx_port}", f"http://127.0.0.1:{tg_port}", public)
    finally:
        for proc in (nx, tg):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_static_feeds_come_from_nginx_with_validators(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, headers={"Accept-Encoding": "identity"}) as c:
        for rel, media in [
            ("feeds/all.rss", "application/rss+xml"),
            ("feeds/all.atom", "application/atom+xml"),
            ("feeds/all.json", "application/feed+json"),
            ("feeds/thong-tin-tuyen-truyen.rss", "application/rss+xml"),
            ("feeds.opml", "text/x-opml"),
        ]:
            r = c.get("/" + rel)
            assert r.status_code == 200, rel
            assert r.content == (stack.public / rel).read_bytes(), rel
            assert r.headers["content-type"].split(";")[0] == media, rel
            etag = r.headers["etag"]
            assert NGINX_ETAG.match(etag), f"{rel}: {etag} is not nginx's own ETag"
            assert r.headers["cache-control"] == "public, max-age=300"
            assert "last-modified" in r.headers
            again = c.get("/" + rel, headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.content == b"", rel
            since = c.get("/" + rel, headers={"If-Modified-Since": r.headers["last-modified"]})
            assert since.status_code == 304, rel
        assert c.get("/feeds/all.rss").headers["x-content-type-options"] == "nosniff"
        assert c.get("/feeds/khong-co-chuyen-muc.rss").status_code == 404
        assert c.get("/feeds/../config.toml").status_code in (400, 404)

        zipped = c.get("/feeds/all.rss", headers={"Accept-Encoding": "gzip"})
        assert zipped.status_code == 200
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.content == (stack.public / "feeds/all.rss").read_bytes()  # decoded
        assert "accept-encoding" in zipped.headers.get("vary", "").lower()


def test_everything_else_is_proxied_to_tgfeed(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url) as c:
        assert c.get("/healthz").status_code == 200
        index = c.get("/")
        assert index.status_code == 200
        # The dynamic index (with the search form), not the static index.html.
        assert "<form" in index.text
        assert index.headers["etag"] == httpx.get(stack.tgfeed_url + "/").headers["etag"]
        search = c.get("/feeds/search.rss", params={"q": "hội nghị"})
        assert search.status_code == 200
        assert "Tìm kiếm" in search.text and "<item>" in search.text
        assert not NGINX_ETAG.match(search.headers["etag"])  # tgfeed's content hash
        assert c.get("/feeds/search.rss").status_code == 400  # tgfeed's own answer
        assert c.get("/digests/").status_code == 200
        r = c.post("/api/articles", json=[])
        assert r.status_code in (401, 403)  # reached tgfeed's API, which wants a token


def test_a_rebuild_changes_what_nginx_serves(stack: Stack, sample_app: App) -> None:
    url = stack.url + "/feeds/all.rss"
    first = httpx.get(url)
    newest = sample_app.store.articles.latest(None, 1)[0]
    fresh = dataclasses.replace(
        newest,
        id=newest.id + "-moi",
        url=newest.url.replace(".aspx", "-moi.aspx"),
        title="Hội nghị triển khai nhiệm vụ mới",
        published_at=newest.published_at + timedelta(hours=1),
    )
    sample_app.store.articles.upsert([fresh], now=sample_app.now())
    result = build_feeds(sample_app)
    assert "feeds/all.rss" in result.written_paths
    second = httpx.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200
    assert second.headers["etag"] != first.headers["etag"]
    assert "Hội nghị triển khai nhiệm vụ mới" in second.text

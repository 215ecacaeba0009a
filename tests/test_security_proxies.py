"""Who the client is, and how long it may take: ``X-Forwarded-For`` / ``-Proto`` are
believed only from ``[web] trusted_proxies`` (rightmost untrusted hop wins), the
subscribe rate limit counts real clients, and a request body must arrive within
``[web] body_timeout``. Against real uvicorn servers and the shipped nginx site."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tgfeed.app import App, LiveApp
from tgfeed.web import create_app
from tgfeed.web.proxies import TrustedProxies, client_address

from .conftest import free_port
from .test_deploy_nginx import NGINX, _wait, main_conf, site_conf

LIMIT = "[web]\nsubscribe_per_hour = 3\n"


@pytest.mark.parametrize(
    ("peer", "xff", "proxies", "client"),
    [
        ("203.0.113.9", "1.2.3.4", [], "203.0.113.9"),  # no proxies: the header is ignored
        ("203.0.113.9", "1.2.3.4", ["127.0.0.1"], "203.0.113.9"),  # from an untrusted peer
        ("127.0.0.1", "1.2.3.4", ["127.0.0.1"], "1.2.3.4"),
        ("127.0.0.1", "6.6.6.6, 1.2.3.4", ["127.0.0.1"], "1.2.3.4"),  # client-written left hop
        ("127.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.2", ["127.0.0.1", "10.0.0.0/8"], "1.2.3.4"),
        ("127.0.0.1", "10.0.0.3, 10.0.0.2", ["127.0.0.1", "10.0.0.0/8"], "10.0.0.3"),  # all ours
        ("127.0.0.1", "6.6.6.6, not-an-ip", ["127.0.0.1"], "127.0.0.1"),  # malformed: the proxy
        ("127.0.0.1", "", ["127.0.0.1"], "127.0.0.1"),
        ("::1", "2001:db8::7, [2001:db8::8]:4711", ["::1"], "2001:db8::8"),
        ("127.0.0.1", "1.2.3.4:5678", ["127.0.0.0/8"], "1.2.3.4"),
    ],
)
def test_the_rightmost_untrusted_hop_is_the_client(
    peer: str, xff: str, proxies: list[str], client: str
) -> None:
    assert client_address(peer, xff, proxies) == client


def _echo_app(app: App) -> Starlette:
    async def echo(request: Request) -> JSONResponse:
        assert request.client is not None
        return JSONResponse({"client": request.client.host, "scheme": request.url.scheme})

    web = Starlette(routes=[Route("/", echo)], middleware=[Middleware(TrustedProxies)])
    web.state.tgfeed = LiveApp(app)
    return web


HEADERS = {"X-Forwarded-For": "6.6.6.6, 198.51.100.4", "X-Forwarded-Proto": "https"}


def test_forwarded_headers_are_ignored_unless_the_peer_is_trusted(
    app_factory: Callable[..., App], live_server: Callable[[Any], Any]
) -> None:
    """Default (no trusted proxies): a local client cannot choose its address or scheme."""
    with live_server(_echo_app(app_factory())) as srv:
        r = httpx.get(srv.url, headers=HEADERS)
    assert r.json() == {"client": "127.0.0.1", "scheme": "http"}


def test_forwarded_headers_from_a_trusted_proxy_give_the_real_client(
    app_factory: Callable[..., App], live_server: Callable[[Any], Any]
) -> None:
    app = app_factory('[web]\ntrusted_proxies = ["127.0.0.0/8"]\n')
    with live_server(_echo_app(app)) as srv:
        r = httpx.get(srv.url, headers=HEADERS)
        bad_proto = httpx.get(srv.url, headers={"X-Forwarded-Proto": "javascript"})
    assert r.json() == {"client": "198.51.100.4", "scheme": "https"}
    assert bad_proto.json()["scheme"] == "http"


def _subscribe(base: str, i: int, xff: str | None = None, **kw: Any) -> int:
    headers = {"X-Forwarded-For": xff} if xff else {}
    with httpx.Client(**kw) as client:
        r = client.post(
            f"{base}/subscribe", data={"email": f"x{i}@example.vn"}, headers=headers, timeout=10
        )
    return r.status_code


def test_without_trusted_proxies_a_changing_header_does_not_escape_the_limit(
    app_factory: Callable[..., App], live_server: Callable[[Any], Any]
) -> None:
    app = app_factory(LIMIT)
    with live_server(create_app(app, scheduler=False)) as srv:
        codes = [_subscribe(srv.url, i, f"203.0.113.{i}") for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def test_behind_a_trusted_proxy_the_limit_counts_each_real_client(
    app_factory: Callable[..., App], live_server: Callable[[Any], Any]
) -> None:
    app = app_factory(LIMIT + 'trusted_proxies = ["127.0.0.1"]\n')
    with live_server(create_app(app, scheduler=False)) as srv:
        a = [_subscribe(srv.url, i, f"{i}.6.6.6, 203.0.113.7") for i in range(4)]
        b = _subscribe(srv.url, 9, "203.0.113.8")
    assert a == [200, 200, 200, 429]  # the spoofed left hops changed nothing
    assert b == 200  # another client has its own bucket


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
def test_the_shipped_nginx_site_and_trusted_proxies_limit_real_clients(tmp_path: Path) -> None:
    """deploy/nginx-tgfeed.conf in front of `tgfeed serve` with the documented
    ``trusted_proxies = ["127.0.0.1"]``: clients connect from 127.0.0.5 and
    127.0.0.6 and send forged ``X-Forwarded-For`` headers; each is limited as itself."""
    public = tmp_path / "public"
    public.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "data/tgfeed.db"\n[feeds]\noutput_dir = "public"\n'
        '[mail]\noutbox_dir = "outbox"\n' + LIMIT + 'trusted_proxies = ["127.0.0.1"]\n',
        encoding="utf-8",
    )
    with _stack(tmp_path, config, public) as base:
        first = [_subscribe(base, i, f"10.9.9.{i}", transport=_from("127.0.0.5")) for i in range(4)]
        other = _subscribe(base, 9, "10.9.9.1", transport=_from("127.0.0.6"))
    assert first == [200, 200, 200, 429]
    assert other == 200


def _from(address: str) -> httpx.HTTPTransport:
    return httpx.HTTPTransport(local_address=address)


class _stack:
    def __init__(self, tmp: Path, config: Path, public: Path) -> None:
        self.tmp, self.config, self.public = tmp, config, public
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> str:
        tg_port, nx_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if k != "TGFEED_CONFIG"}
        log = self.tmp / "serve.log"
        args = ["serve", "--no-scheduler", "--host", "127.0.0.1", "--port", str(tg_port)]
        with log.open("wb") as out:
            tg = subprocess.Popen(
                [sys.executable, "-m", "tgfeed", "--config", str(self.config), *args],
                cwd=self.tmp,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(tg)
        nx_dir = self.tmp / "nginx"
        nx_dir.mkdir()
        site = nx_dir / "tgfeed.conf"
        site.write_text(site_conf(self.public, nx_port, tg_port), encoding="utf-8")
        conf = nx_dir / "nginx.conf"
        conf.write_text(main_conf(nx_dir, site), encoding="utf-8")
        nx_log = nx_dir / "error.log"
        assert NGINX is not None
        nx = subprocess.Popen(
            [NGINX, "-p", str(nx_dir), "-e", str(nx_log), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(nx)
        _wait(f"http://127.0.0.1:{tg_port}/healthz", tg, "tgfeed serve", log)
        _wait(f"http://127.0.0.1:{nx_port}/healthz", nx, "nginx", nx_log)
        return f"http://127.0.0.1:{nx_port}"

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


# -- slow bodies ------------------------------------------------------------------------


@pytest.fixture
def slow_server(
    app_factory: Callable[..., App], live_server: Callable[[Any], Any], monkeypatch: Any
) -> Iterator[int]:
    monkeypatch.setenv("TGFEED_SLOW_API", "slow-api-token-0123456789")
    app = app_factory('[web]\nbody_timeout = 1\napi_token_env = "TGFEED_SLOW_API"\n')
    with live_server(create_app(app, scheduler=False)) as srv:
        yield srv.port


def _trickle(
    port: int, path: str, extra: str = "", ctype: str = "application/x-www-form-urlencoded"
) -> tuple[float, bytes]:
    """Declare 1,000 bytes, send 10, then nothing: (seconds until the answer, answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n{extra}"
            f"Content-Type: {ctype}\r\n\r\nemail=a%40b"
        )
        start = time.monotonic()
        s.sendall(head.encode())
        data = s.recv(65536)
        took = time.monotonic() - start
        while chunk := s.recv(65536):  # the server closes the connection after it
            data += chunk
        return took, data


def test_a_slow_body_gets_408_within_the_configured_time(slow_server: int) -> None:
    took, answer = _trickle(slow_server, "/subscribe")
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert 0.9 <= took < 3, took
    assert b"connection: close" in answer.lower()
    assert "Nội dung yêu cầu đến quá chậm".encode() in answer


def test_a_slow_push_api_body_gets_408_in_json(slow_server: int) -> None:
    auth = "Authorization: Bearer slow-api-token-0123456789\r\n"
    took, answer = _trickle(slow_server, "/api/articles", auth, "application/json")
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert 0.9 <= took < 3, took
    assert b'"error":"the request body did not arrive within 1 seconds"' in answer

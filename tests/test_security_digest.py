"""The digest side against a stranger, on a real uvicorn server: guessed and forged
confirmation/unsubscribe links, the signing key, CR/LF aimed at mail headers,
hostile articles aimed at the email and the archive, HTML pages without the
security headers, oversized request bodies. (Double opt-in, not revealing who is
subscribed, the rate limit and the basic bad/expired links are proven in
test_digest_web.py; tokens and the key file in test_subscribers.py.)"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import mailbox
import os
import random
import re
import struct
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from tgfeed.app import App
from tgfeed.importers import article_from_record
from tgfeed.jobs.digest import send_digest
from tgfeed.jobs.ingest import ingest_items
from tgfeed.tokens import TOKEN_LENGTH, Signer
from tgfeed.web import create_app

from .reliability_support import ServeProcess, check_document
from .smtp_faults import FaultyRelay
from .test_security_web import HOSTILE, assert_page_runs_nothing, assert_security_headers

WEEK = "2026-W48"
PRIVATE = {"cache-control": "no-store", "referrer-policy": "no-referrer"}


def with_public_url(web: Any, app: App, url: str) -> App:
    """The app with ``public_url`` set, swapped in for the running web app."""
    site = app.config.site.model_copy(update={"public_url": url})
    new = app.with_config(app.config.model_copy(update={"site": site}))
    web.state.tgfeed.swap(new)
    return new


@pytest.fixture
def served(sample_app: App, live_server: Any) -> Iterator[tuple[App, httpx.Client]]:
    web = create_app(sample_app, scheduler=False)
    srv = live_server(web)
    app = with_public_url(web, sample_app, srv.url)
    with srv, httpx.Client(base_url=srv.url, timeout=20) as client:
        yield app, client


def outbox(app: App) -> list[tuple[bytes, EmailMessage]]:
    path = app.path(app.config.mail.outbox_dir)
    if not path.exists():
        return []
    box = mailbox.Maildir(path, create=False)
    out = []
    for key in sorted(box.keys()):
        raw = box.get_bytes(key)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        out.append((raw, msg))
    return out


def wait_for_mail(app: App, count: int, timeout: float = 10) -> list[tuple[bytes, EmailMessage]]:
    deadline = time.monotonic() + timeout
    while len(found := outbox(app)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


# -- links: forged, guessed, expired -----------------------------------------------


def _forge(token: str, subject: int) -> str:
    """The same token with another subscriber id in its payload (MAC kept)."""
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[2:10] = struct.pack(">Q", subject)
    return base64.urlsafe_b64encode(bytes(raw)).decode()


def test_forged_guessed_and_expired_links_change_nobody(
    served: tuple[App, httpx.Client], clock: Any
) -> None:
    app, client = served
    ms = app.store.mail
    subs = [
        ms.add_subscriber(f"nguoi{i}@example.vn", now=app.now(), status=status)[0]
        for i, status in enumerate(["active", "active", "pending", "pending", "active"])
    ]
    before = {s.id: ms.subscriber(s.id).status for s in subs}  # type: ignore[union-attr]
    signer = app.signer
    mine = subs[0]
    tokens = {
        purpose: signer.issue(purpose, mine.id, now=app.now(), max_age=3600)
        for purpose in ("confirm", "unsubscribe")
    }
    rng = random.Random(7)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    forged: list[str] = []
    for purpose, token in tokens.items():
        forged += [_forge(token, s.id) for s in subs[1:]]  # enumerate the neighbours
        forged.append(Signer(os.urandom(32)).issue(purpose, subs[1].id, now=app.now(), max_age=9))
    forged += ["".join(rng.choice(alphabet) for _ in range(TOKEN_LENGTH)) for _ in range(300)]
    forged += ["x", "A" * 39, "A" * 41, tokens["confirm"][:-1] + "%0a"]
    for token in forged:
        for purpose in ("confirm", "unsubscribe"):
            for method in ("GET", "POST"):
                r = client.request(method, f"/{purpose}/{token}")
                assert r.status_code in (400, 404, 405), (purpose, token, r.status_code)
                if r.status_code == 400:
                    assert "không hợp lệ" in r.text
                    assert_security_headers(r)
                    assert all(r.headers.get(k) == v for k, v in PRIVATE.items())
    # Right signature, wrong purpose: refused both ways.
    for purpose, token in tokens.items():
        other = "unsubscribe" if purpose == "confirm" else "confirm"
        assert client.post(f"/{other}/{token}").status_code == 400
    # Expired: a calm page that says so, and changes nothing.
    clock.advance(3601)
    for purpose, token in tokens.items():
        for method in ("GET", "POST"):
            r = client.request(method, f"/{purpose}/{token}")
            assert r.status_code == 400 and "hết hạn" in r.text
    after = {s.id: ms.subscriber(s.id).status for s in subs}  # type: ignore[union-attr]
    assert after == before


# -- CR/LF never reaches a header ----------------------------------------------------

EVIL_NAME = "Tên\r\nBcc: evil@attacker.example\r\nSubject: =?utf-8?q?x?="
EVIL_TAILS = ["\r\nBcc: evil@attacker.example", "\nBcc: evil@attacker.example", "\rX: y"]


def _header_names(raw: bytes) -> list[str]:
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0].lower() for line in head.split("\n") if line[:1] not in " \t"]


def test_cr_lf_from_the_subscribe_form_never_reaches_a_header(
    served: tuple[App, httpx.Client],
) -> None:
    app, client = served
    for tail in EVIL_TAILS:
        r = client.post("/subscribe", data={"email": "dung@example.vn" + tail, "name": "x"})
        assert r.status_code == 400  # not an address
    r = client.post(
        "/subscribe", data={"email": "dung@example.vn", "name": EVIL_NAME, "unit": EVIL_NAME}
    )
    assert r.status_code == 200
    ((raw, msg),) = wait_for_mail(app, 1)
    names = _header_names(raw)
    assert "bcc" not in names and names.count("subject") == 1, names
    assert [a.addr_spec for a in msg["To"].addresses] == ["dung@example.vn"]
    sub = app.store.mail.by_email("dung@example.vn")
    assert sub is not None and sub.name is not None
    assert "\r" not in sub.name and "\n" not in sub.name


def test_cr_lf_in_names_and_config_never_reaches_a_digest_header(
    app_factory: Callable[..., App],
) -> None:
    """Through a real SMTP relay: the envelope and the headers carry exactly one
    recipient, whatever the subscriber's name or the configured sender name hold."""
    with FaultyRelay() as relay:
        mail = 'from_name = "Ban Tuyên giáo\\r\\nBcc: evil@attacker.example"\n'
        app = app_factory(mail + relay.toml(), samples=True)
        ms = app.store.mail
        ms.add_subscriber("can.bo@example.vn", name=EVIL_NAME, now=app.now(), status="active")
        result = asyncio.run(send_digest(app, week=WEEK))
        assert result.status == "sent" and result.sent == 1
        ((rcpt, held),) = relay.copies().items()
    assert rcpt == "can.bo@example.vn" and len(held) == 1
    raw = held[0].data
    names = _header_names(raw)
    assert "bcc" not in names and names.count("subject") == 1, names
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert [a.addr_spec for a in msg["To"].addresses] == ["can.bo@example.vn"]
    assert all("\r" not in str(v) and "\n" not in str(v) for v in msg.values())


# -- nothing executable in the email or the archive -----------------------------------


def _hostile_week_article(app: App) -> str:
    rec = {
        **HOSTILE,
        "title": "Hội nghị <script>alert(1)</script> giao ban",
        "category": ["Thông tin - Tuyên truyền", "Tin tức hoạt động"],
        "published": "2026-11-26T09:00:00+07:00",
    }
    art = article_from_record(rec, "hostile", app.config.site.url, app.tz)
    result = ingest_items(app, [("hostile", art)], source="test")
    assert result.count("added") == 1
    return art.id


def test_hostile_article_never_reaches_an_email_or_the_archive_executable(
    served: tuple[App, httpx.Client],
) -> None:
    app, client = served
    _hostile_week_article(app)
    app.store.mail.add_subscriber("doc@example.vn", now=app.now(), status="active")
    result = asyncio.run(send_digest(app, week=WEEK))
    assert result.status == "sent"
    ((_, msg),) = outbox(app)
    html = msg.get_body(("html",))
    text = msg.get_body(("plain",))
    assert html is not None and text is not None
    html_s = html.get_content()
    assert "Hội nghị &lt;script&gt;alert(1)&lt;/script&gt; giao ban" in html_s
    assert_page_runs_nothing(html_s.encode(), "email html")  # markup shown as text is fine
    assert "Hội nghị <script>alert(1)</script> giao ban" in text.get_content()  # plain text
    for path in ("/digests/", f"/digests/{WEEK}"):
        r = client.get(path)
        assert r.status_code == 200
        assert_page_runs_nothing(r.content, path)
        assert_security_headers(r)


# -- security headers on every digest HTML page --------------------------------------


def test_every_digest_html_response_sends_the_security_headers(
    served: tuple[App, httpx.Client],
) -> None:
    app, client = served
    ms = app.store.mail
    sub, _ = ms.add_subscriber("doc@example.vn", now=app.now(), status="active")
    signer = app.signer
    confirm = signer.issue("confirm", sub.id, now=app.now(), max_age=3600)
    unsub = signer.issue("unsubscribe", sub.id, now=app.now(), max_age=3600)
    asyncio.run(send_digest(app, week=WEEK))
    probes = [
        client.get("/digests/"),
        client.get(f"/digests/{WEEK}"),
        client.get("/digests/2026-W01"),  # 404
        client.get("/subscribe"),
        client.post("/subscribe", data={"email": "moi@example.vn"}),
        client.post("/subscribe", data={"email": "không phải"}),  # 400
        client.post("/subscribe", content=b"x" * 200_000),  # 413
        client.get(f"/confirm/{confirm}"),
        client.get("/confirm/bad"),
        client.get(f"/unsubscribe/{unsub}"),
        client.post(f"/unsubscribe/{unsub}"),
        client.get("/unsubscribe/bad"),
        client.put("/subscribe"),  # 405
    ]
    limit = app.config.web.subscribe_per_hour
    for i in range(limit + 1):
        r = client.post("/subscribe", data={"email": f"x{i}@example.vn"})
    probes.append(r)  # 429
    statuses = {r.status_code for r in probes}
    assert {200, 400, 404, 405, 413, 429} <= statuses, statuses
    for r in probes:
        assert r.headers["content-type"].startswith("text/html"), (r.request.url, r.status_code)
        check_document(r.request.url.path, r.content, r.headers["content-type"])
        assert_security_headers(r)


# -- request bodies are size-limited on every route ---------------------------------


def _vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_request_bodies_are_refused_past_the_limit_without_being_buffered(
    app_factory: Callable[..., App],
) -> None:
    """Every route that takes a body (and every other path): a declared length over
    the limit is refused at once; 150 MB streamed without a length is cut off; the
    server's memory does not grow with what was sent (the access log, on here, shows
    the 413)."""
    app = app_factory("[web]\naccess_log = true\n")
    config = app.config.source_path
    assert config is not None
    paths = ["/subscribe", "/unsubscribe/x", "/confirm/x", "/", "/feeds/all.rss", "/nope"]
    with ServeProcess(config) as srv, httpx.Client(base_url=srv.url, timeout=60) as client:
        start = _vm_hwm_kib(srv.proc.pid)
        for path in paths:
            r = client.post(path, content=b"email=a%40b.vn&x=" + b"y" * 100_000)
            assert r.status_code == 413, (path, r.status_code)
            assert_security_headers(r)

            def stream() -> Iterator[bytes]:
                yield b"email=a%40b.vn"
                for i in range(150):
                    yield b"&f%d=" % i + b"y" * 1_000_000

            try:
                r = client.post(
                    path,
                    content=stream(),
                    headers={"content-type": "application/x-www-form-urlencoded"},
                )
                # Refused before or while reading (a bad token needs no body at all).
                assert r.status_code in (400, 404, 405, 413), (path, r.status_code)
            except httpx.WriteError:
                pass  # the server closed the connection on the sender: also a refusal
        grown = _vm_hwm_kib(srv.proc.pid) - start
        ok = client.post("/subscribe", data={"email": "that@example.vn", "name": "Người thật"})
        assert ok.status_code == 200
    assert grown < 30_000, f"the server grew by {grown} KiB"
    assert re.search(r"POST /subscribe HTTP/1.1\" 413", srv.output())

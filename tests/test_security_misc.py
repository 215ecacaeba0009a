"""The smaller holes: redirects to another port, a second From added to a signed
digest, remote images in feeds."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from pathlib import Path

import dkim  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tgfeed.app import App
from tgfeed.digest.signing import OVERSIGNED, DkimKey
from tgfeed.feeds.entries import Options
from tgfeed.feeds.render import Channel, render_many
from tgfeed.jobs.crawl import crawl
from tgfeed.model import Article
from tgfeed.sources.links import origin_of, redirect_targets

from .conftest import FIXED_NOW
from .fixture_site import FixtureSite, Resource, article_html, listing_html
from .test_sources_crawl import LISTING, TAG, source_toml

# -- redirects keep to the same scheme, host and port ----------------------------------

MOVED = "/bai-viet/chuyen-cong-1201.aspx"
TARGET = "/bai-viet/hoi-nghi-cong-khac-1202.aspx"


def test_a_redirect_to_another_port_of_the_same_host_is_refused(
    app_factory: Callable[..., App],
) -> None:
    with FixtureSite() as site, FixtureSite() as other:
        other.add(TARGET, Resource(article_html("Cổng khác").encode()))
        site.add("/robots.txt", Resource(b"", content_type="text/plain"))
        site.add(LISTING, listing_html("Tin", [(MOVED, "Chuyển cổng")]))
        site.add(MOVED, Resource(location=f"http://127.0.0.1:{other.port}{TARGET}", status=302))
        app = app_factory(source_toml(site))
        result = asyncio.run(crawl(app))["site"]
        assert result.counts["added"] == 0
        (failure,) = [f for f in result.failures if f.item.endswith(MOVED)]
        assert failure.reason is not None
        assert f"another host, port or scheme 'http://127.0.0.1:{other.port}'" in failure.reason
        assert other.hits_for(TARGET) == []  # not a single request reached the other port


def test_a_source_may_allow_another_port_explicitly(app_factory: Callable[..., App]) -> None:
    with FixtureSite() as site, FixtureSite() as other:
        other.add("/robots.txt", Resource(b"", content_type="text/plain"))
        other.add(TARGET, Resource(article_html("Cổng khác").encode()))
        site.add("/robots.txt", Resource(b"", content_type="text/plain"))
        site.add(LISTING, listing_html("Tin", [(MOVED, "Chuyển cổng")]))
        site.add(MOVED, Resource(location=f"http://127.0.0.1:{other.port}{TARGET}", status=302))
        app = app_factory(source_toml(site, allowed_hosts=[f"127.0.0.1:{other.port}"]))
        result = asyncio.run(crawl(app))["site"]
        assert result.counts["added"] == 1, result.failures
        assert app.store.articles.get(TAG + "1202") is not None


@pytest.mark.parametrize(
    ("target", "followed"),
    [
        ("http://tuyengiaohungyen.vn/x", True),
        ("http://tuyengiaohungyen.vn:80/x", True),
        ("https://tuyengiaohungyen.vn/x", True),  # http → https on the default ports
        ("http://tuyengiaohungyen.vn:8080/x", False),  # another port
        ("https://tuyengiaohungyen.vn:8443/x", False),
        ("ftp://tuyengiaohungyen.vn/x", False),  # another scheme
        ("http://evil.example/x", False),  # another host
        ("http://www.tuyengiaohungyen.vn/x", True),  # allowed_hosts, same port
        ("http://www.tuyengiaohungyen.vn:81/x", False),
        ("http://cdn.tuyengiaohungyen.vn:8081/x", True),  # allowed_hosts with its port
    ],
)
def test_which_redirects_are_followed(target: str, followed: bool) -> None:
    allowed = redirect_targets(
        "http://tuyengiaohungyen.vn/a", ["www.tuyengiaohungyen.vn", "cdn.tuyengiaohungyen.vn:8081"]
    )
    assert (origin_of(target) in allowed) is followed


def test_https_never_follows_a_redirect_down_to_http() -> None:
    allowed = redirect_targets("https://tuyengiaohungyen.vn/a", ["tuyengiaohungyen.vn"])
    assert origin_of("http://tuyengiaohungyen.vn/a") not in allowed


# -- DKIM oversigning ------------------------------------------------------------------


def test_a_second_from_prepended_to_a_signed_message_fails_verification() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return record

    message = (
        b"From: Ban Tuyen giao <bantin@tuyengiaohungyen.vn>\r\nTo: a@example.vn\r\n"
        b"Subject: Ban tin\r\nDate: Mon, 30 Nov 2026 07:00:00 +0700\r\n"
        b"Message-ID: <x@tuyengiaohungyen.vn>\r\n"
        b"List-Unsubscribe: <https://tuyengiaohungyen.vn/u/x>\r\n"
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nXin chao.\r\n"
    )
    signed = DkimKey("tuyengiaohungyen.vn", "tg", pem).sign(message)
    assert dkim.verify(signed, dnsfunc=dns)
    names = [b"from", b"to", b"subject", b"date", b"message-id"]
    names += [b"list-unsubscribe", b"list-unsubscribe-post"]
    assert set(OVERSIGNED) == set(names)
    for name in names:
        forged = name.title() + b": forged <evil@example.com>\r\n" + signed
        assert not dkim.verify(forged, dnsfunc=dns), name
        # the same header added after the signature header (before the original)
        head, _, rest = signed.partition(b"\r\nFrom:")
        forged = head + b"\r\n" + name.title() + b": forged\r\nFrom:" + rest
        assert not dkim.verify(forged, dnsfunc=dns), name


# -- remote images in feeds ------------------------------------------------------------

BODY = (
    '<p>Ảnh:</p><img src="https://tuyengiaohungyen.vn/Upload/a.jpg" alt="a">'
    '<img src="http://tracker.example/pixel.gif" alt="t"><img src="/Upload/b.jpg" alt="b">'
)
CHANNEL = Channel(
    id="tag:x,2018:all",
    title="Tất cả",
    description="d",
    base_url="https://tin.tuyengiaohungyen.vn/feeds/all",
    home_url="https://tuyengiaohungyen.vn/",
)


def _content(images: str) -> str:
    article = Article(
        id="tag:x,2018:1",
        url="https://tuyengiaohungyen.vn/bai-viet/anh-1.aspx",
        title="Ảnh",
        category=("A",),
        published_at=FIXED_NOW,
        body_text="Ảnh:",
        body_html=BODY,
    )
    opts = Options(site_url="https://tuyengiaohungyen.vn", images=images)  # type: ignore[arg-type]
    out = render_many(("json",), CHANNEL, [article], opts)
    return str(json.loads(out["json"])["items"][0]["content_html"])


def test_feeds_images_keep_drop_or_https_only() -> None:
    keep, drop, https = _content("keep"), _content("drop"), _content("https-only")
    assert keep.count("<img") == 3 and "tracker.example" in keep
    assert "<img" not in drop and "<p>Ảnh:</p>" in drop
    assert "tracker.example" not in https
    assert 'src="https://tuyengiaohungyen.vn/Upload/a.jpg"' in https
    assert 'src="https://tuyengiaohungyen.vn/Upload/b.jpg"' in https  # relative → https site


def test_the_default_is_https_only(app: App, tmp_path: Path) -> None:
    assert app.config.feeds.images == "https-only"
    assert Options.from_config(app.config).images == "https-only"

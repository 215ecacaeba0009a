"""SSRF: a crawl source may not reach loopback or private addresses unless its
config says ``allow_private = true`` — whatever spelling the address takes, and
for feed sources as well as site sources. (The basic guard, name resolution and
the checked-address connection are proven in test_sources_crawl.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tgfeed.app import App
from tgfeed.jobs.crawl import crawl

from .fixture_site import FixtureSite, article_html, listing_html
from .test_sources_crawl import source_toml

LISTING = "/chuyen-muc/tin-tuc.aspx"
PAGE = "/bai-viet/hoi-nghi-1.aspx"

# Spellings of 127.0.0.1 (and "this host") that resolvers accept.
LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "0x7f.0.0.1",
    "0177.0.0.1",
    "0",
    "0.0.0.0",
    "localhost",
    "localhost.",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
]


@pytest.fixture
def site() -> FixtureSite:
    with FixtureSite() as s:
        s.add(LISTING, listing_html("Tin", [(PAGE, "Hội nghị")]))
        s.add(PAGE, article_html("Hội nghị"))
        s.add(
            "/rss",
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
            b"<item><title>a</title><link>https://a.vn/1</link></item></channel></rss>",
        )
        yield s


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_refused(
    site: FixtureSite, app_factory: Callable[..., App], host: str
) -> None:
    url = f"http://{host}:{site.port}{LISTING}"
    app = app_factory(source_toml(site, allow_private=False, listing_urls=[url], retries=0))
    result = asyncio.run(crawl(app))["site"]
    assert site.arrivals == [], f"{host} reached the server"
    assert result.counts["added"] == 0 and result.counts["failed"] >= 1
    reason = result.failures[0].reason or ""
    # Refused by the guard, or not even a URL httpx will send.
    assert any(w in reason for w in ("non-public address", "cannot resolve", "InvalidURL")), reason


def test_allow_private_opens_the_intranet_explicitly(
    site: FixtureSite, app_factory: Callable[..., App]
) -> None:
    url = f"http://127.1:{site.port}{LISTING}"
    app = app_factory(source_toml(site, allow_private=True, listing_urls=[url]))
    result = asyncio.run(crawl(app))["site"]
    assert result.counts["added"] == 1 and site.arrivals


def test_feed_sources_are_guarded_too(site: FixtureSite, app_factory: Callable[..., App]) -> None:
    toml = f'\n[[sources]]\nname = "bao"\nkind = "feed"\nurl = "http://127.0.0.1:{site.port}/rss"\n'
    app = app_factory(toml)
    result = asyncio.run(crawl(app))["bao"]
    assert site.arrivals == []
    assert "non-public address" in (result.failures[0].reason or "")

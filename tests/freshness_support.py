"""What the issue 13 feed tests share: an App with its own [site]/[feeds] lines and
a back-dated article."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from tgfeed.app import App, build_app
from tgfeed.importers import article_from_record
from tgfeed.loader import loads

from .conftest import FixedClock
from .fixture_site import FixtureSite

IDENTITY = {"accept-encoding": "identity"}
TOKEN = "s3cr3t-token-for-freshness"


def make_app(
    tmp_path: Path, clock: FixedClock, *, site: str = "", feeds: str = "", extra: str = ""
) -> App:
    """An App over tmp_path with its own [site]/[feeds] lines (the shared config
    helper has its own [feeds] table)."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[store]\npath = "data/tgfeed.db"\n'
        f"[site]\n{site}\n"
        f'[feeds]\noutput_dir = "public"\n{feeds}\n'
        '[mail]\noutbox_dir = "outbox"\n' + extra,
        encoding="utf-8",
    )
    return build_app(loads(path.read_bytes(), source=path), clock=clock)


def back_dated(app: App, n: int, days_ago: int = 5) -> Any:
    """An article published well before the newest one in the store."""
    when = app.now() - timedelta(days=days_ago)
    rec = {
        "url": f"{app.config.site.url}/bai-viet/bai-dang-muon-{n}-{7000 + n}.aspx",
        "title": f"Bài đăng muộn số {n}",
        "category": ["Thông tin - Tuyên truyền", "Tin tức hoạt động"],
        "published": when.isoformat(),
        "body_text": "Một bài được đăng muộn với ngày cũ.",
    }
    return article_from_record(rec, "test", app.config.site.url, app.tz)


def crawl_toml(site: FixtureSite) -> str:
    """A site source crawling ``site`` and the push API's token."""
    return (
        '\n[[sources]]\nname = "site"\nkind = "site"\n'
        f'listing_urls = ["{site.url}/chuyen-muc/tin.aspx"]\n'
        "allow_private = true\ndelay = 0\ntimeout = 2\nretries = 0\nrobots = false\n"
        '\n[web]\napi_token_env = "TGFEED_TEST_API_TOKEN"\n'
    )

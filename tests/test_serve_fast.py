"""`tgfeed serve` does little per request (issue 14): no access log unless
``[web] access_log`` turns it on, and the store version asked of SQLite at most
every ``VERSION_TTL`` — at once after a change through the server's own store."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tgfeed.app import App
from tgfeed.feeds import publish
from tgfeed.feeds.publish import VERSION_TTL, Publisher
from tgfeed.loader import loads

from .conftest import write_config
from .test_serve import SCHEDULE, Serve

LINE = '"GET /feeds/all.rss HTTP/1.1" 200'


@pytest.mark.parametrize("on", [False, True])
def test_access_log_is_off_unless_configured(tmp_path: Path, on: bool) -> None:
    extra = SCHEDULE.replace("[web]\n", "[web]\naccess_log = true\n") if on else SCHEDULE
    write_config(tmp_path, extra)
    server = Serve(tmp_path)
    try:
        assert httpx.get(server.url + "/feeds/all.rss", timeout=10).status_code == 200
    finally:
        server.stop()
    assert (LINE in server.output()) is on, server.output()


def test_the_default_config_has_the_access_log_off(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    assert loads(path.read_bytes(), source=path).web.access_log is False


def test_store_version_is_asked_at_most_every_ttl(
    sample_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(publish.time, "monotonic", lambda: clock[0])
    asked: list[str] = []
    sample_app.store.db.conn.set_trace_callback(
        lambda sql: asked.append(sql) if "articles_version" in sql and "SELECT" in sql else None
    )
    pub = Publisher(sample_app)
    first = pub.feed("all", "rss")
    assert first is not None and len(asked) == 1
    for _ in range(50):  # requests within the TTL: no query, the cached feed
        assert pub.feed("all", "rss") is first
    assert len(asked) == 1

    # A change through this store is seen at once, TTL or not.
    newest = sample_app.store.articles.latest(None, 1)[0]
    fresh = dataclasses.replace(
        newest,
        id=newest.id + "-moi",
        url=newest.url.replace(".aspx", "-moi.aspx"),
        published_at=newest.published_at + timedelta(hours=1),
    )
    sample_app.store.articles.upsert([fresh], now=sample_app.now())
    second = pub.feed("all", "rss")
    assert second is not None and fresh.id.encode() in second.body

    # Another process's change (the version moves, not through this repository):
    # seen once the TTL has passed.
    with sample_app.store.write():
        sample_app.store.db.conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'articles_version'"
        )
    before = len(asked)
    pub.feed("all", "rss")
    assert len(asked) == before  # within the TTL: not asked
    clock[0] += VERSION_TTL
    pub.feed("all", "rss")
    assert len(asked) == before + 1
    sample_app.store.db.conn.set_trace_callback(None)

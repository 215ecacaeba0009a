"""The site crawler against a fixture copy of the site on a real 127.0.0.1 server."""

from __future__ import annotations

import asyncio
import itertools
import time
import unicodedata
from collections.abc import Callable, Iterator

import pytest

from tgfeed.app import App
from tgfeed.jobs.crawl import crawl, failing_sources, source_states
from tgfeed.sources.netguard import is_public

from .fixture_site import FixtureSite, Resource, article_html, listing_html, to_cp1258

TAG = "tag:tuyengiaohungyen.vn,2018:bai-viet/"
LISTING = "/chuyen-muc/tin-tuc-hoat-dong.aspx"


def source_toml(site: FixtureSite, name: str = "site", **extra: object) -> str:
    options = {
        "kind": "site",
        "listing_urls": [f"{site.url}{LISTING}"],
        "pagination_pattern": r"\?page=\d+$",
        "max_pages": 3,
        "allow_private": True,
        "delay": 0,
        "timeout": 0.5,
        "retries": 2,
        "backoff": 0.02,
        "concurrency": 4,
        **extra,
    }

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return "'" + v + "'"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return str(v)

    lines = [f'name = "{name}"', *(f"{k} = {value(v)}" for k, v in options.items())]
    return "\n[[sources]]\n" + "\n".join(lines) + "\n"


GOOD = {
    "/bai-viet/hoi-nghi-tap-huan-1001.aspx": "Hội nghị tập huấn nghiệp vụ công tác tuyên giáo",
    "/bai-viet/giao-ban-bao-chi-1002.aspx": "Hội nghị giao ban báo chí tháng 11",
    "/bai-viet/khao-sat-kim-dong-1003.aspx": "Đoàn công tác khảo sát tại Kim Động",
    "/bai-viet/toa-dam-chuyen-doi-so-1004.aspx": "Tọa đàm chuyển đổi số trong công tác tuyên giáo",
}
CHANGING = "/bai-viet/so-ket-cong-tac-1005.aspx"
RECOVERS = "/bai-viet/loi-may-chu-1006.aspx"
SLOW = "/bai-viet/trang-cham-1007.aspx"
CP1258 = "/bai-viet/tieng-viet-windows-1258-1008.aspx"
CP1258_TITLE = "Hưng Yên: Đẩy mạnh học tập và làm theo tư tưởng, đạo đức Hồ Chí Minh"
AWAY = "/bai-viet/chuyen-huong-1009.aspx"
PRIVATE = "/bai-viet/noi-bo-1010.aspx"
GARBAGE = "/bai-viet/rac-1011.aspx"
TRUNCATED = "/bai-viet/cat-cut-1012.aspx"
LOOP = "/bai-viet/vong-lap-1013.aspx"
HUGE = "/bai-viet/trang-lon-1014.aspx"
HUGE_STREAM = "/bai-viet/trang-lon-khong-do-dai-1015.aspx"
TRICKLE = "/bai-viet/nho-giot-1016.aspx"
NOT_FOUND = "/bai-viet/khong-ton-tai-1017.aspx"
PAGE4_ONLY = "/bai-viet/trang-bon-1018.aspx"

BAD = [SLOW, AWAY, PRIVATE, GARBAGE, TRUNCATED, LOOP, HUGE, HUGE_STREAM, TRICKLE, NOT_FOUND]


def build_site(site: FixtureSite) -> None:
    site.add(
        "/robots.txt",
        Resource(b"User-agent: *\nDisallow: /bai-viet/noi-bo", content_type="text/plain"),
    )
    p1 = [*list(GOOD.items())[:2], (CHANGING, "Sơ kết"), (RECOVERS, "Lỗi"), (SLOW, "Chậm")]
    p2 = [(h, "x") for h in (*list(GOOD)[2:], CP1258, AWAY, PRIVATE, GARBAGE, TRUNCATED, LOOP)]
    p3 = [(h, "x") for h in (HUGE, HUGE_STREAM, TRICKLE, NOT_FOUND)] + [p1[0]]  # p1[0] twice
    pages = (f"{LISTING}?page=2", f"{LISTING}?page=3", f"{LISTING}?page=4")
    site.add(LISTING, listing_html("Tin tức hoạt động", p1, pages))
    site.add(f"{LISTING}?page=2", listing_html("Trang 2", p2, pages))
    site.add(f"{LISTING}?page=3", listing_html("Trang 3", p3, pages))
    site.add(f"{LISTING}?page=4", listing_html("Trang 4", [(PAGE4_ONLY, "x")], pages))
    for i, (path, title) in enumerate(GOOD.items()):
        site.add(path, article_html(title, published=f"2{i}/11/2026 - 9:0{i}:00 AM"))
    site.add(CHANGING, article_html("Sơ kết công tác quý III", published="27/11/2026 - 3:00:00 PM"))
    site.add(RECOVERS, Resource(article_html("Máy chủ lỗi rồi hồi phục").encode(), fail_times=1))
    site.add(SLOW, Resource(article_html("Trang chậm").encode(), delay=2.0))
    cp = article_html(CP1258_TITLE, charset="windows-1258", author="Lưu Tú")
    site.add(CP1258, Resource(to_cp1258(cp), content_type="text/html; charset=windows-1258"))
    site.add(AWAY, Resource(location=f"http://localhost:{site.port}{GOOD_FIRST}", status=301))
    site.add(PRIVATE, article_html("Không được lấy"))
    site.add(GARBAGE, Resource(b"\x00\xff<html><<<body>>\x89PNG garbage </div></p><p"))
    site.add(TRUNCATED, Resource(article_html("Bị cắt").encode(), truncate=True))
    site.add(LOOP, Resource(location="/bai-viet/vong-b.aspx"))
    site.add("/bai-viet/vong-b.aspx", Resource(location=LOOP))
    site.add(HUGE, Resource(b"<html>" + b"x" * 10_000_000))
    site.add(HUGE_STREAM, Resource(undeclared_size=60_000_000))
    site.add(TRICKLE, Resource(article_html("Nhỏ giọt").encode(), trickle=0.05))
    site.add(PAGE4_ONLY, article_html("Trang bốn"))


GOOD_FIRST = next(iter(GOOD))


@pytest.fixture
def site() -> Iterator[FixtureSite]:
    with FixtureSite() as s:
        build_site(s)
        yield s


def ids(app: App) -> set[str]:
    return {a.id for a in app.store.articles.latest(limit=1000)}


def test_first_crawl_stores_exactly_the_good_pages_and_records_each_failure(
    site: FixtureSite, app_factory: Callable[..., App]
) -> None:
    app = app_factory(source_toml(site))
    started = time.monotonic()
    results = asyncio.run(crawl(app))
    elapsed = time.monotonic() - started
    result = results["site"]
    expected_ids = {TAG + n for n in ("1001", "1002", "1003", "1004", "1005", "1006", "1008")}
    assert ids(app) == expected_ids
    assert result.counts == {"added": 7, "updated": 0, "unchanged": 0, "failed": len(BAD)}
    reasons = {f.item.removeprefix(site.url): f.reason or "" for f in result.failures}
    assert set(reasons) == set(BAD)
    assert "timed out after 0.5s after 3 attempts" in reasons[SLOW]
    assert "timed out" in reasons[TRICKLE]
    assert (
        f"redirected to another host, port or scheme 'http://localhost:{site.port}'"
        in reasons[AWAY]
    )
    assert "disallowed by" in reasons[PRIVATE] and "robots.txt" in reasons[PRIVATE]
    assert "no 'Đăng ngày" in reasons[GARBAGE]
    assert "connection broken" in reasons[TRUNCATED]
    assert "redirect loop" in reasons[LOOP]
    assert "10,000,006 bytes is larger than max_bytes" in reasons[HUGE]
    assert "larger than max_bytes = 5,000,000; stopped reading" in reasons[HUGE_STREAM]
    assert "HTTP 404" in reasons[NOT_FOUND]
    assert elapsed < 15

    # The 500 recovered on the retry; the slow page was tried 3 times; page 4 is past max_pages.
    assert [h.status for h in site.hits_for(RECOVERS)] == [500, 200]
    assert site.requested(SLOW) == 3
    assert site.hits_for(f"{LISTING}?page=4") == []
    assert site.hits_for(PAGE4_ONLY) == []
    assert site.requested(PRIVATE) == 0  # robots.txt: never requested
    assert len(site.hits_for(GOOD_FIRST)) == 1  # linked twice, fetched once
    # The crawler stopped reading: the server could not push 60 MB down the socket.
    assert sum(h.body_bytes for h in site.hits_for(HUGE_STREAM)) < 30_000_000

    # Identifying User-Agent on every request.
    assert {h.headers.get("User-Agent") for h in site.hits} == {app.config.user_agent}

    # The windows-1258 page is correct NFC text.
    art = app.store.articles.get(TAG + "1008")
    assert art is not None
    assert art.title == CP1258_TITLE
    assert unicodedata.is_normalized("NFC", art.title + art.body_text)
    assert art.author == "Lưu Tú"
    assert art.category == ("Thông tin - Tuyên truyền", "Tin tức hoạt động")
    assert art.url == f"{site.url}{CP1258}"

    # The run is recorded with its failures; the source state counts fetches.
    run = app.store.articles.recent_runs(1)[0]
    assert run["source"] == "source:site"
    assert (run["added"], run["failed"]) == (7, len(BAD))
    failures = app.store.articles.recent_failures(50)
    assert {f["item"].removeprefix(site.url) for f in failures} == set(BAD)
    (state,) = source_states(app)
    assert state.last_error is None and state.consecutive_failures == 0
    assert state.last_counts is not None
    assert state.last_counts["retries"] >= 1 and state.last_counts["robots_blocked"] == 1


def test_second_crawl_fetches_only_what_changed(
    site: FixtureSite, app_factory: Callable[..., App]
) -> None:
    app = app_factory(source_toml(site))
    asyncio.run(crawl(app))
    before = app.store.articles.get(TAG + "1005")
    assert before is not None
    # Between crawls: one article is edited, another's view count grows.
    site.add(
        CHANGING,
        article_html("Sơ kết công tác quý III năm 2026", published="27/11/2026 - 3:00:00 PM"),
    )
    site.add(
        GOOD_FIRST, article_html(GOOD[GOOD_FIRST], published="20/11/2026 - 9:00:00 AM", views=999)
    )
    site.clear_log()
    result = asyncio.run(crawl(app))["site"]
    assert result.counts["added"] == 0
    assert result.counts["updated"] == 1
    assert result.counts["unchanged"] == 6  # 5 answered 304, the one with new views parsed
    after = app.store.articles.get(TAG + "1005")
    assert after is not None and after.title == "Sơ kết công tác quý III năm 2026"
    refreshed = app.store.articles.get(TAG + "1001")
    assert refreshed is not None and refreshed.views == 999
    # Unchanged pages answered 304 and sent no body.
    stored_paths = [*GOOD, RECOVERS, CP1258]
    for path in stored_paths:
        hits = site.hits_for(path)
        if path == GOOD_FIRST:
            assert [h.status for h in hits] == [200]
            continue
        assert [(h.status, h.body_bytes) for h in hits] == [(304, 0)], path
        assert hits[0].headers.get("If-None-Match")
    assert ids(app) == {TAG + n for n in ("1001", "1002", "1003", "1004", "1005", "1006", "1008")}


def test_a_crawl_with_nothing_changed_fetches_no_article_body(
    app_factory: Callable[..., App],
) -> None:
    with FixtureSite() as site:
        links = [(path, title) for path, title in GOOD.items()]
        site.add(LISTING, listing_html("Tin", links[:2], (f"{LISTING}?page=2",)))
        site.add(f"{LISTING}?page=2", listing_html("Tin 2", links[2:]))
        for path, title in GOOD.items():
            site.add(path, article_html(title))
        app = app_factory(source_toml(site))
        first = asyncio.run(crawl(app))["site"]
        assert first.counts["added"] == 4
        first_bytes = sum(h.wire_bytes for h in site.hits)
        site.clear_log()
        second = asyncio.run(crawl(app))["site"]
        assert second.counts == {"added": 0, "updated": 0, "unchanged": 4, "failed": 0}
        article_hits = [h for h in site.hits if h.path in GOOD]
        assert len(article_hits) == 4
        assert all(h.status == 304 and h.body_bytes == 0 for h in article_hits)
        listing_hits = [h for h in site.hits if h.path.startswith(LISTING)]
        assert [h.status for h in listing_hits] == [304, 304]
        (state,) = source_states(app)
        assert state.last_counts is not None
        assert state.last_counts["not_modified"] == 6 and state.last_counts["fetched"] == 0
        assert sum(h.wire_bytes for h in site.hits) < 0.2 * first_bytes


def test_last_modified_same_body_and_settled_pages(app_factory: Callable[..., App]) -> None:
    with FixtureSite() as site:
        ims_page = "/bai-viet/last-modified-2001.aspx"
        recent = "/bai-viet/khong-validator-moi-2002.aspx"
        settled = "/bai-viet/khong-validator-cu-2003.aspx"
        site.add(LISTING, listing_html("Tin", [(ims_page, "a"), (recent, "b"), (settled, "c")]))
        site.add(
            ims_page,
            Resource(
                article_html("Có Last-Modified").encode(), etag=False, last_modified=1_795_000_000
            ),
        )
        site.add(
            recent,
            Resource(
                article_html("Không validator, mới", published="29/11/2026 - 8:00:00 AM").encode(),
                etag=False,
            ),
        )
        site.add(
            settled,
            Resource(
                article_html("Không validator, cũ", published="01/11/2026 - 8:00:00 AM").encode(),
                etag=False,
            ),
        )
        app = app_factory(source_toml(site))
        assert asyncio.run(crawl(app))["site"].counts["added"] == 3
        site.clear_log()
        again = asyncio.run(crawl(app))["site"]
        assert again.counts == {"added": 0, "updated": 0, "unchanged": 3, "failed": 0}
        (ims_hit,) = site.hits_for(ims_page)
        assert ims_hit.status == 304 and ims_hit.headers.get("If-Modified-Since")
        (recent_hit,) = site.hits_for(recent)
        assert recent_hit.status == 200  # no validator: the body comes; its hash matches
        # Older than refresh_days without a validator: not asked for again.
        assert site.requested(settled) == 0


def test_ssrf_guard_refuses_private_addresses_unless_allowed(
    site: FixtureSite, app_factory: Callable[..., App]
) -> None:
    app = app_factory(source_toml(site, allow_private=False))
    result = asyncio.run(crawl(app))["site"]
    assert site.arrivals == []  # nothing ever reached the server
    assert result.counts["failed"] == 1 and result.counts["added"] == 0
    reason = result.failures[0].reason or ""
    assert "127.0.0.1 resolves to the non-public address 127.0.0.1" in reason
    assert "allow_private = true" in reason
    (state,) = source_states(app)
    assert state.consecutive_failures == 1
    assert state.last_error is not None and state.last_error.startswith("every listing page failed")


def test_ssrf_guard_checks_names_after_resolving_them(app_factory: Callable[..., App]) -> None:
    with FixtureSite() as site:
        toml = source_toml(
            site, allow_private=False, listing_urls=[f"http://localhost:{site.port}/x"]
        )
        app = app_factory(toml)
        result = asyncio.run(crawl(app))["site"]
        assert site.arrivals == []
        assert "localhost resolves to the non-public address" in (result.failures[0].reason or "")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
        ("8.8.8.8", True),
        ("203.162.4.190", True),
        ("2001:4860:4860::8888", True),
    ],
)
def test_is_public(address: str, public: bool) -> None:
    assert is_public(address) is public


def test_redirect_to_an_allowed_host_is_followed(
    site: FixtureSite, app_factory: Callable[..., App]
) -> None:
    site.add(LISTING, listing_html("Tin", [(AWAY, "Chuyển hướng")]))
    app = app_factory(source_toml(site, allowed_hosts=["localhost"]))
    result = asyncio.run(crawl(app))["site"]
    assert result.counts == {"added": 1, "updated": 0, "unchanged": 0, "failed": 0}
    art = app.store.articles.get(TAG + "1001")
    assert art is not None and art.url == f"http://localhost:{site.port}{GOOD_FIRST}"
    (hit,) = site.hits_for(GOOD_FIRST)
    assert hit.headers.get("Host") == f"localhost:{site.port}"


def test_robots_txt_unavailable_means_nothing_is_crawled(
    site: FixtureSite, app_factory: Callable[..., App]
) -> None:
    site.add("/robots.txt", Resource(status=503, body=b"busy"))
    app = app_factory(source_toml(site, retries=0))
    result = asyncio.run(crawl(app))["site"]
    assert [h.path for h in site.hits] == ["/robots.txt"]
    assert "robots.txt unavailable (HTTP 503)" in (result.failures[0].reason or "")
    site.add("/robots.txt", Resource(status=404, body=b"none"))  # 404: no rules
    result = asyncio.run(crawl(app))["site"]
    assert TAG + "1010" in ids(app)  # PRIVATE is allowed now
    reasons = {f.item.removeprefix(site.url): f.reason or "" for f in result.failures}
    assert reasons[RECOVERS].endswith("HTTP 500")  # retries = 0: no second chance


def test_per_host_delay_and_crawl_delay_space_requests(app_factory: Callable[..., App]) -> None:
    with FixtureSite() as site:
        site.add(
            "/robots.txt",
            Resource(
                b"User-agent: other\nCrawl-delay: 9\n\nUser-agent: *\nCrawl-delay: 0.3\n",
                content_type="text/plain",
            ),
        )
        links = list(GOOD.items())
        site.add(LISTING, listing_html("Tin", links))
        for path, title in links:
            site.add(path, article_html(title))
        app = app_factory(source_toml(site, delay=0.1, concurrency=4))
        asyncio.run(crawl(app))
        times = sorted(at for path, at in site.arrived_at if path != "/robots.txt")
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert len(times) == 5
        assert min(gaps) >= 0.25  # Crawl-delay 0.3s wins over delay 0.1s


def test_recent_articles_off_the_listing_are_rechecked(
    app_factory: Callable[..., App],
) -> None:
    with FixtureSite() as site:
        old, recent = "/bai-viet/cu-3001.aspx", "/bai-viet/moi-3002.aspx"
        site.add(LISTING, listing_html("Tin", [(old, "cũ"), (recent, "mới")]))
        site.add(old, article_html("Bài cũ", published="01/10/2026 - 8:00:00 AM"))
        site.add(recent, article_html("Bài mới", published="28/11/2026 - 8:00:00 AM", views=5))
        app = app_factory(source_toml(site, refresh_days=3))
        asyncio.run(crawl(app))
        # Both fall off the first listing page; the recent one's views grow.
        site.add(LISTING, listing_html("Tin", [(GOOD_FIRST, "khác")]))
        site.add(GOOD_FIRST, article_html("Khác"))
        site.add(recent, article_html("Bài mới", published="28/11/2026 - 8:00:00 AM", views=77))
        site.clear_log()
        asyncio.run(crawl(app))
        assert site.hits_for(old) == []
        assert [h.status for h in site.hits_for(recent)] == [200]
        art = app.store.articles.get(TAG + "3002")
        assert art is not None and art.views == 77


def test_category_override_and_dry_run(site: FixtureSite, app_factory: Callable[..., App]) -> None:
    app = app_factory(source_toml(site, category=["Tin từ website", "Hoạt động"]))
    dry = asyncio.run(crawl(app, dry_run=True))["site"]
    assert dry.counts["added"] == 7
    assert app.store.articles.count() == 0 and app.store.articles.recent_runs() == []
    assert source_states(app)[0].last_run_at is None
    asyncio.run(crawl(app))
    art = app.store.articles.get(TAG + "1002")
    assert art is not None and art.category == ("Tin từ website", "Hoạt động")
    assert art.category_slug == "tin-tu-website/hoat-dong"


def test_one_failing_source_never_stops_the_others_and_a_streak_is_failing(
    site: FixtureSite, app_factory: Callable[..., App]
) -> None:
    broken = source_toml(
        site, name="broken", listing_urls=[f"{site.url}/khong-co.aspx"], alert_after=2
    )
    no_links = source_toml(site, name="structure", listing_urls=[f"{site.url}/robots.txt"])
    app = app_factory(broken + no_links + source_toml(site, name="good"))
    results = asyncio.run(crawl(app))
    assert list(results) == ["broken", "structure", "good"]
    assert results["good"].counts["added"] == 7
    assert "HTTP 404" in (results["broken"].failures[0].reason or "")
    assert failing_sources(app) == []
    asyncio.run(crawl(app, "broken"))
    states = {s.name: s for s in source_states(app)}
    assert states["broken"].consecutive_failures == 2 and states["broken"].failing
    assert states["structure"].last_error is not None
    assert "matched article_pattern" in states["structure"].last_error
    assert states["good"].consecutive_failures == 0 and states["good"].last_ok_at is not None
    assert [s.name for s in failing_sources(app)] == ["broken"]
    # Fixed: the streak resets.
    site.add("/khong-co.aspx", listing_html("Tin", [(GOOD_FIRST, "x")]))
    asyncio.run(crawl(app, "broken"))
    assert failing_sources(app) == []


def test_unknown_source_name_is_an_error(app_factory: Callable[..., App]) -> None:
    from tgfeed.errors import TgfeedError

    app = app_factory()
    with pytest.raises(TgfeedError, match="no source named 'nope'"):
        asyncio.run(crawl(app, "nope"))


def test_guarded_connection_connects_to_the_checked_address(
    app_factory: Callable[..., App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the guard on, tgfeed resolves the name itself and connects to the address
    it checked (here loopback is declared public so the path can run offline)."""
    import tgfeed.sources.netguard as netguard

    checked: list[str] = []

    def fake_public(address: str) -> bool:
        checked.append(address)
        return True

    monkeypatch.setattr(netguard, "is_public", fake_public)
    with FixtureSite() as site:
        listing = f"http://localhost:{site.port}{LISTING}"
        site.add(LISTING, listing_html("Tin", [(GOOD_FIRST, "x")]))
        site.add(GOOD_FIRST, article_html(GOOD[GOOD_FIRST]))
        app = app_factory(source_toml(site, allow_private=False, listing_urls=[listing]))
        result = asyncio.run(crawl(app))["site"]
        assert result.counts["added"] == 1
        assert "127.0.0.1" in checked or "::1" in checked
        (hit,) = site.hits_for(GOOD_FIRST)
        assert hit.headers.get("Host") == f"localhost:{site.port}"


def test_mislabelled_charset_still_becomes_correct_text(app_factory: Callable[..., App]) -> None:
    with FixtureSite() as site:
        page = "/bai-viet/nhan-sai-5001.aspx"
        site.add(LISTING, listing_html("Tin", [(page, "x")]))
        body = article_html(CP1258_TITLE).replace(' charset=utf-8"', '"')  # no meta charset
        # The server claims UTF-8, the bytes are Windows-1258.
        site.add(page, Resource(to_cp1258(body), content_type="text/html; charset=utf-8"))
        app = app_factory(source_toml(site))
        assert asyncio.run(crawl(app))["site"].counts["added"] == 1
        art = app.store.articles.get(TAG + "5001")
        assert art is not None and art.title == CP1258_TITLE
        assert "Lượt xem" not in art.body_text and art.views == 86


def test_check_sources_raises_for_a_failing_source_only(
    site: FixtureSite, app_factory: Callable[..., App]
) -> None:
    from tgfeed.jobs.crawl import SourcesFailing, check_sources

    broken = source_toml(site, name="broken", listing_urls=[f"{site.url}/x.aspx"], alert_after=2)
    app = app_factory(broken + source_toml(site, name="good"))
    for _ in range(2):
        results = asyncio.run(crawl(app))
    check_sources(app, ["good"])
    with pytest.raises(SourcesFailing, match="broken: 2 failed runs in a row, last: every listing"):
        check_sources(app, results)


def test_a_malformed_link_is_one_failure(app_factory: Callable[..., App]) -> None:
    with FixtureSite() as site:
        bad = "http://127.0.0.1:99999/bai-viet/cong-sai-6001.aspx"  # port out of range
        site.add(LISTING, listing_html("Tin", [(bad, "x"), (GOOD_FIRST, "y")]))
        site.add(GOOD_FIRST, article_html(GOOD[GOOD_FIRST]))
        app = app_factory(source_toml(site))
        result = asyncio.run(crawl(app))["site"]
        assert result.counts == {"added": 1, "updated": 0, "unchanged": 0, "failed": 1}
        reason = result.failures[0].reason or ""
        assert reason.startswith(bad + ": ") and "port" in reason

"""The crawler's link and robots.txt rules (tgfeed.sources.links), edge by edge."""

from __future__ import annotations

import re

import pytest

from tgfeed.sources.links import (
    MAX_CRAWL_DELAY,
    charset_of,
    crawl_delay,
    extract_links,
    follows,
    host_delay,
    host_of,
    origin_of,
    origin_text,
    page_text,
    redirect_targets,
    robots_unavailable,
)

SITE = "https://tuyengiaohungyen.vn"

# -- links of a page ---------------------------------------------------------------


def test_links_come_from_a_area_and_link_rel_next_only() -> None:
    html = (
        '<a href="/a-1.aspx">a</a><area href="/ban-do.aspx">'
        '<link rel="stylesheet" href="/s.css"><link rel="next" href="/p2.aspx">'
        '<img src="/i.jpg"><form action="/f.aspx"></form>'
    )
    assert extract_links(html, SITE + "/") == [
        f"{SITE}/a-1.aspx",
        f"{SITE}/ban-do.aspx",
        f"{SITE}/p2.aspx",
    ]


def test_links_are_trimmed_and_resolved_against_the_page_or_its_base() -> None:
    page = f"{SITE}/chuyen-muc/tin.aspx"
    assert extract_links('<a href="  bai-1.aspx ">x</a>', page) == [f"{SITE}/chuyen-muc/bai-1.aspx"]
    based = '<base href=" /bai-viet/ "><a href="b-2.aspx">x</a>'
    assert extract_links(based, page) == [f"{SITE}/bai-viet/b-2.aspx"]
    empty_base = '<base href=""><a href="c-3.aspx">x</a>'
    assert extract_links(empty_base, page) == [f"{SITE}/chuyen-muc/c-3.aspx"]


def test_links_without_a_host_or_of_other_schemes_are_dropped() -> None:
    html = '<a href="ftp://x.vn/f">f</a><a href="http:///nohost">n</a><a href="">e</a>'
    assert extract_links(html, SITE + "/") == []  # an empty href is no link


def test_a_broken_first_link_is_skipped() -> None:
    assert extract_links('<a href="http://[bad">x</a>', SITE + "/") == []
    html = '<a href="http://[bad">x</a><a href="/a-1.aspx">a</a>'
    assert extract_links(html, SITE + "/") == [f"{SITE}/a-1.aspx"]


def test_pathological_markup_keeps_the_links_found_so_far() -> None:
    html = '<a href="/a-1.aspx">a</a><![if !supportLists]><a href="/b-2.aspx">b'
    assert extract_links(html, SITE + "/")[:1] == [f"{SITE}/a-1.aspx"]


def test_host_of_is_lowercase_and_empty_for_a_broken_url() -> None:
    assert host_of("https://WWW.TuyenGiaoHungYen.vn/x") == "www.tuyengiaohungyen.vn"
    assert host_of("http://[bad/") == ""
    assert host_of("/relative") == ""


def test_follows_needs_the_pattern_and_an_allowed_host() -> None:
    pattern = re.compile(r"/bai-viet/.+\.aspx$")
    hosts = {"tuyengiaohungyen.vn"}
    assert follows(f"{SITE}/bai-viet/a-1.aspx", pattern, hosts)
    assert follows("https://TUYENGIAOHUNGYEN.vn/bai-viet/a-1.aspx", pattern, hosts)
    assert not follows(f"{SITE}/chuyen-muc/a.aspx", pattern, hosts)
    assert not follows("https://other.vn/bai-viet/a-1.aspx", pattern, hosts)


# -- bytes to text -----------------------------------------------------------------


def test_charset_of_a_content_type() -> None:
    assert charset_of('text/html; charset="windows-1258"') == "windows-1258"
    assert charset_of("text/html;CHARSET=utf-8") == "utf-8"
    assert charset_of("text/html") is None
    assert charset_of(None) is None


def test_page_text_valid_utf8_wins_else_the_declared_charset() -> None:
    assert page_text("Hội nghị".encode(), "windows-1258") == "Hội nghị"
    assert page_text("Hội".encode("latin-1", "replace"), "latin-1") == "H?i"
    assert page_text(b"caf\xe9", "latin-1") == "café"
    # 0xD0 is Ð in latin-1 and Đ in windows-1258: the declared charset is used
    assert page_text(b"\xd0", "latin-1") == "Ð"
    assert page_text(b"\xd0", None) == "Đ"


# -- robots.txt --------------------------------------------------------------------


def test_crawl_delay_of_our_group_by_substring_of_the_agent() -> None:
    robots = "User-agent: tgfeed\nCrawl-delay: 4\n\nUser-agent: *\nCrawl-delay: 1\n"
    assert crawl_delay(robots, "tgfeed/1.0 (+https://x.vn)") == 4.0
    assert crawl_delay(robots, "TGFEED") == 4.0
    assert crawl_delay(robots, "otherbot") == 1.0


def test_crawl_delay_falls_back_to_star_when_our_group_has_none() -> None:
    robots = "User-agent: tgfeed\nDisallow: /x\n\nUser-agent: *\nCrawl-delay: 3\n"
    assert crawl_delay(robots, "tgfeed") == 3.0


def test_crawl_delay_first_value_of_a_group_counts() -> None:
    assert crawl_delay("User-agent: a\nCrawl-delay: 1\nCrawl-delay: 2\n", "a") == 1.0


def test_crawl_delay_a_new_user_agent_after_rules_starts_a_new_group() -> None:
    robots = "User-agent: tgfeed\nCrawl-delay: 5\nUser-agent: other\nCrawl-delay: 7\n"
    assert crawl_delay(robots, "tgfeed") == 5.0
    assert crawl_delay(robots, "other") == 7.0
    grouped = "User-agent: tgfeed\nUser-agent: other\nCrawl-delay: 6\n"
    assert crawl_delay(grouped, "tgfeed") == crawl_delay(grouped, "other") == 6.0


def test_crawl_delay_ignores_comments_case_and_blank_lines() -> None:
    robots = "# hello\n\nUSER-AGENT : TgFeed # us\n  CRAWL-DELAY :  2.5  # slow\n"
    assert crawl_delay(robots, "tgfeed") == 2.5
    assert crawl_delay("", "tgfeed") is None


def test_a_bad_crawl_delay_still_closes_the_group() -> None:
    robots = "User-agent: tgfeed\nCrawl-delay: soon\nUser-agent: other\nCrawl-delay: 2\n"
    assert crawl_delay(robots, "tgfeed") is None  # tgfeed's group has no usable delay
    assert crawl_delay(robots, "other") == 2.0


def test_any_rule_closes_a_group() -> None:
    """The next User-agent line starts a new group: its delay is not ours."""
    robots = "User-agent: tgfeed\nDisallow: /admin\nUser-agent: other\nCrawl-delay: 7\n"
    assert crawl_delay(robots, "tgfeed") is None
    assert crawl_delay(robots, "other") == 7.0


def test_host_delay_is_ours_at_least_and_capped() -> None:
    assert host_delay(None, 1.0) is None
    assert host_delay(0.2, 1.0) == 1.0
    assert host_delay(3.0, 1.0) == 3.0
    assert host_delay(MAX_CRAWL_DELAY + 1, 1.0) == MAX_CRAWL_DELAY == 60.0
    assert host_delay(60.0, 1.0) == 60.0


@pytest.mark.parametrize(
    "failure",
    [
        f"{SITE}/robots.txt: HTTP 404",
        f"{SITE}/robots.txt: HTTP 400",
        f"{SITE}/robots.txt: HTTP 499",
        f"{SITE}/robots.txt: redirected to another host (https://x.vn/)",
        f"{SITE}/robots.txt: larger than 512000 bytes",
    ],
)
def test_robots_txt_missing_means_no_rules(failure: str) -> None:
    assert robots_unavailable(failure) is None


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (f"{SITE}/robots.txt: HTTP 503", "HTTP 503"),
        (f"{SITE}/robots.txt: HTTP 500", "HTTP 500"),
        (f"{SITE}/robots.txt: HTTP 399", "HTTP 399"),
        (f"{SITE}/robots.txt: ConnectError: refused", "ConnectError: refused"),
        ("timed out", "timed out"),
    ],
)
def test_robots_txt_unavailable_means_nothing_is_crawled(failure: str, reason: str) -> None:
    assert robots_unavailable(failure) == (
        f"robots.txt unavailable ({reason}); not crawling this host now"
    )


# -- origins and redirects ---------------------------------------------------------


def test_origin_of_has_the_default_port_of_its_scheme() -> None:
    assert origin_of("HTTPS://TuyenGiao.vn/x") == ("https", "tuyengiao.vn", 443)
    assert origin_of("http://a.vn/") == ("http", "a.vn", 80)
    assert origin_of("http://a.vn:8080/") == ("http", "a.vn", 8080)
    assert origin_of("ftp://a.vn/") == ("ftp", "a.vn", None)
    assert origin_of("http://[bad/") == ("", "", None)
    assert origin_of("http://a.vn:99999/") == ("", "", None)


def test_origin_text() -> None:
    assert origin_text("https://a.vn/x") == "https://a.vn:443"
    assert origin_text("not a url") == "not a url"


def test_redirects_stay_on_scheme_host_and_port() -> None:
    assert redirect_targets("https://a.vn:8443/x", []) == {("https", "a.vn", 8443)}
    assert redirect_targets("https://a.vn/x", []) == {("https", "a.vn", 443)}


def test_http_may_go_to_https_on_the_default_ports_only() -> None:
    assert redirect_targets("http://a.vn/x", []) == {("http", "a.vn", 80), ("https", "a.vn", 443)}
    assert redirect_targets("http://a.vn:8080/x", []) == {("http", "a.vn", 8080)}


def test_allowed_hosts_same_port_or_their_own_port() -> None:
    targets = redirect_targets("https://a.vn/x", ["CDN.a.vn", "b.vn:8443", "[::1]:81", "[::1]"])
    assert targets == {
        ("https", "a.vn", 443),
        ("https", "cdn.a.vn", 443),
        ("https", "b.vn", 8443),
        ("https", "::1", 81),
        ("https", "::1", 443),
    }
    assert ("https", "b.vn:x", 443) in redirect_targets("https://a.vn/", ["b.vn:x"])

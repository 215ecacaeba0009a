"""Checks shared by the feed tests: what the W3C Feed Validation Service checks
that matters to readers (required elements, date formats, self links, unique
ids), a JSON Feed 1.1 structure check, and "nothing executable" in HTML fields."""

from __future__ import annotations

import json
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import lxml.etree as ET
import lxml.html

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$"
)
_BAD_TAGS = {"script", "iframe", "object", "embed", "style", "frame", "frameset", "base", "form"}
_BAD_SCHEMES = ("javascript:", "vbscript:", "data:text", "livescript:")


def assert_safe_html(fragment: str) -> None:
    """No element or attribute in ``fragment`` can run code."""
    if not fragment.strip():
        return
    for node in lxml.html.fragments_fromstring(f"<div>{fragment}</div>"):
        if not hasattr(node, "iter"):
            continue
        for el in node.iter():
            if not isinstance(el.tag, str):
                continue
            assert el.tag.lower() not in _BAD_TAGS, f"<{el.tag}> survived in {fragment[:200]!r}"
            for name, value in el.attrib.items():
                assert not name.lower().startswith("on"), f"{name}= survived"
                v = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                assert not v.startswith(_BAD_SCHEMES), f"{name}={value!r} survived"


def check_rss(data: bytes, *, tz_offset: str = "+0700") -> ET._Element:
    root = ET.fromstring(data)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channels = root.findall("channel")
    assert len(channels) == 1
    ch = channels[0]
    for name in ("title", "link", "description"):
        el = ch.find(name)
        assert el is not None and (el.text or "").strip(), f"channel <{name}> missing"
    assert (ch.findtext("link") or "").startswith(("http://", "https://"))
    selfs = [el for el in ch.findall(f"{ATOM}link") if el.get("rel") == "self"]
    assert len(selfs) == 1 and selfs[0].get("type") == "application/rss+xml"
    assert selfs[0].get("href", "").startswith(("http://", "https://"))
    build = ch.findtext("lastBuildDate") or ""
    assert RFC822.match(build), build
    assert ch.findtext("language") == "vi"
    guids: set[str] = set()
    for item in ch.findall("item"):
        assert item.findtext("title") or item.findtext("description")
        guid = item.find("guid")
        assert guid is not None and guid.get("isPermaLink") == "false"
        assert guid.text and guid.text not in guids
        guids.add(guid.text)
        pub = item.findtext("pubDate") or ""
        assert RFC822.match(pub) and pub.endswith(tz_offset), pub
        link = item.findtext("link") or ""
        assert link.startswith(("http://", "https://")), link
        assert_safe_html(item.findtext("description") or "")
        assert_safe_html(item.findtext(CONTENT) or "")
    return root


def check_atom(data: bytes, *, tz_offset: str = "+07:00") -> ET._Element:
    root = ET.fromstring(data)
    assert root.tag == f"{ATOM}feed"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "vi"
    for name in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{name}") is not None, f"feed <{name}> missing"
    assert RFC3339.match(root.findtext(f"{ATOM}updated") or "")
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    selfs = [el for el in root.findall(f"{ATOM}link") if el.get("rel") == "self"]
    assert len(selfs) == 1 and selfs[0].get("type") == "application/atom+xml"
    ids: set[str] = set()
    for entry in root.findall(f"{ATOM}entry"):
        eid = entry.findtext(f"{ATOM}id") or ""
        assert eid and eid not in ids
        ids.add(eid)
        assert entry.find(f"{ATOM}title") is not None
        for name in ("updated", "published"):
            value = entry.findtext(f"{ATOM}{name}") or ""
            assert RFC3339.match(value) and value.endswith(tz_offset), value
        links = entry.findall(f"{ATOM}link")
        assert any(ln.get("rel", "alternate") == "alternate" for ln in links)
        for name in ("summary", "content"):
            el = entry.find(f"{ATOM}{name}")
            if el is not None and el.get("type") == "html":
                assert_safe_html(el.text or "")
    return root


def check_json(data: bytes, *, tz_offset: str = "+07:00") -> dict[str, Any]:
    feed = json.loads(data.decode("utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str) and feed["title"]
    assert feed["feed_url"].startswith(("http://", "https://"))
    assert feed["language"] == "vi"
    for key in feed:
        assert key in _JSON_FEED_KEYS or key.startswith("_"), f"unknown top-level key {key}"
    ids: set[str] = set()
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["id"] and item["id"] not in ids
        ids.add(item["id"])
        assert "content_html" in item or "content_text" in item
        for name in ("date_published", "date_modified"):
            assert RFC3339.match(item[name]) and item[name].endswith(tz_offset), item[name]
        assert_safe_html(item.get("content_html", ""))
        for key in item:
            assert key in _JSON_ITEM_KEYS or key.startswith("_"), f"unknown item key {key}"
    return feed


_JSON_FEED_KEYS = {
    "version",
    "title",
    "home_page_url",
    "feed_url",
    "description",
    "user_comment",
    "next_url",
    "icon",
    "favicon",
    "authors",
    "language",
    "expired",
    "hubs",
    "items",
}
_JSON_ITEM_KEYS = {
    "id",
    "url",
    "external_url",
    "title",
    "content_html",
    "content_text",
    "summary",
    "image",
    "banner_image",
    "date_published",
    "date_modified",
    "authors",
    "tags",
    "language",
    "attachments",
}


def rfc822(value: str) -> datetime:
    return parsedate_to_datetime(value)

"""Feed rendering: the optional channel and item fields, one by one (issue 17)."""

from __future__ import annotations

import dataclasses
import json

import lxml.etree as ET
import pytest

from tgfeed.errors import RenderError
from tgfeed.feeds.render import render, render_many

from .test_feeds_render import CHANNEL, art, opts

ATOM = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
HUB = "https://hub.example.vn/"


def test_rss_hub_link_follows_the_self_link_and_channel_link_is_home() -> None:
    rss = ET.fromstring(render("rss", CHANNEL, [art(1)], opts(hub=HUB)))
    channel = rss.find("channel")
    assert channel is not None
    links = [(el.get("rel"), el.get("href")) for el in channel if el.tag == f"{ATOM}link"]
    assert links == [("self", CHANNEL.url("rss")), ("hub", HUB)]
    assert channel.findtext("link") == CHANNEL.home_url
    plain = ET.fromstring(render("rss", CHANNEL, [art(1)], opts(hub=None))).find("channel")
    assert plain is not None
    assert [el.get("rel") for el in plain if el.tag == f"{ATOM}link"] == ["self"]


def test_rss_item_creator_and_categories() -> None:
    rss = ET.fromstring(render("rss", CHANNEL, [art(1)], opts(category_scheme="https://x.vn/c")))
    item = rss.find("channel/item")
    assert item is not None
    assert item.findtext(f"{DC}creator") == "Nguyễn Văn A"
    cats = [(c.text, c.get("domain")) for c in item.findall("category")]
    assert ("Tin tức hoạt động", "https://x.vn/c") in cats
    bare = ET.fromstring(render("rss", CHANNEL, [art(1, author=None)], opts())).find("channel/item")
    assert bare is not None and bare.find(f"{DC}creator") is None


def test_atom_self_link_is_the_atom_url_when_rendered_with_rss() -> None:
    out = render_many(("rss", "atom"), CHANNEL, [art(1)], opts(hub=HUB))
    atom = ET.fromstring(out["atom"])
    rels = {el.get("rel"): el.get("href") for el in atom.findall(f"{ATOM}link")}
    assert rels == {"self": CHANNEL.url("atom"), "hub": HUB, "alternate": CHANNEL.home_url}
    assert atom.find(f"{ATOM}link[@rel='self']").get("type") == "application/atom+xml"  # type: ignore[union-attr]
    assert list(out) == ["rss", "atom"]


def test_json_optional_channel_fields() -> None:
    full = json.loads(
        render(
            "json",
            CHANNEL,
            [art(1)],
            opts(
                icon="https://x.vn/i.png",
                logo="https://x.vn/l.png",
                hub=HUB,
                publisher="Ban Tuyên giáo",
                rights="© Ban",
            ),
        )
    )
    assert full["icon"] == "https://x.vn/l.png" and full["favicon"] == "https://x.vn/i.png"
    assert full["hubs"] == [{"type": "WebSub", "url": HUB}]
    assert full["authors"][0]["name"] == "Ban Tuyên giáo"
    assert full["_rights"] == {"text": "© Ban"}
    assert full["feed_url"] == CHANNEL.url("json") and full["home_page_url"] == CHANNEL.home_url
    icon_only = json.loads(render("json", CHANNEL, [], opts(icon="https://x.vn/i.png", logo=None)))
    assert icon_only["icon"] == "https://x.vn/i.png"
    bare = json.loads(
        render("json", CHANNEL, [], opts(icon=None, logo=None, hub=None, publisher="", rights=""))
    )
    for key in ("icon", "favicon", "hubs", "authors", "_rights"):
        assert key not in bare
    assert bare["items"] == []


def test_json_item_fields() -> None:
    item = json.loads(render("json", CHANNEL, [art(1)], opts()))["items"][0]
    assert item["content_html"].startswith("<p>") and item["summary"] == "Tóm tắt bài 1."
    assert item["authors"] == [{"name": "Nguyễn Văn A"}]
    assert item["tags"] == ["Thông tin - Tuyên truyền", "Tin tức hoạt động"]
    assert item["language"] == "vi"
    assert item["date_published"].endswith("+07:00")
    short = json.loads(
        render(
            "json",
            CHANNEL,
            [art(2, summary="", body_html="", author=None)],
            opts(content="summary"),
        )
    )["items"][0]
    assert "content_html" not in short
    assert short["content_text"] == "Hội nghị số 2"  # no summary: the title stands in
    assert "authors" not in short and "summary" not in short


def test_unknown_format_is_refused() -> None:
    with pytest.raises(RenderError, match="unknown feed format 'xml'"):
        render_many(("rss", "xml"), CHANNEL, [art(1)], opts())
    assert render_many((), CHANNEL, [art(1)], opts()) == {}


def test_icon_and_logo_in_rss_and_atom() -> None:
    out = render_many(
        ("rss", "atom"), CHANNEL, [], opts(icon="https://x.vn/i.png", logo="https://x.vn/l.png")
    )
    assert ET.fromstring(out["rss"]).findtext("channel/image/url") == "https://x.vn/l.png"
    atom = ET.fromstring(out["atom"])
    assert atom.findtext(f"{ATOM}icon") == "https://x.vn/i.png"
    assert atom.findtext(f"{ATOM}logo") == "https://x.vn/l.png"
    bare = ET.fromstring(render("atom", CHANNEL, [], opts(icon=None, logo=None)))
    assert bare.find(f"{ATOM}icon") is None and bare.find(f"{ATOM}logo") is None


def test_rss_hub_link_comes_right_after_the_self_link() -> None:
    channel = ET.fromstring(render("rss", CHANNEL, [art(1)], opts(hub=HUB))).find("channel")
    assert channel is not None
    rels = [el.get("rel") if el.tag == f"{ATOM}link" else el.tag for el in channel]
    assert rels[rels.index("self") + 1] == "hub"


def test_formats_may_be_any_iterable() -> None:
    out = render_many(iter(("rss", "json")), CHANNEL, [art(1)], opts())
    assert list(out) == ["rss", "json"]
    assert out["rss"].startswith(b"<?xml") and json.loads(out["json"])["items"]


def test_what_feedgen_refuses_is_a_render_error() -> None:
    broken = dataclasses.replace(CHANNEL, id="")
    with pytest.raises(RenderError, match="cannot render: Required fields not set"):
        render("atom", broken, [art(1)], opts())

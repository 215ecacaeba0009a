"""``opml.render_opml`` writes its document without ElementTree, for speed (it is
rendered at every build): the bytes must be exactly ElementTree's, indented by
``ET.indent``, for any titles, addresses and folders — the reference below is the
renderer tgfeed had before."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from tgfeed.feeds.opml import Folder, Outline, render_opml
from tgfeed.text import clean_line


def reference(
    title: str,
    items: Sequence[Outline | Folder],
    *,
    modified: datetime | None = None,
    owner: str | None = None,
    language: str = "vi",
) -> bytes:
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = clean_line(title)
    if modified is not None:
        ET.SubElement(head, "dateModified").text = format_datetime(modified, usegmt=True)
    if owner:
        ET.SubElement(head, "ownerName").text = clean_line(owner)
    body = ET.SubElement(root, "body")
    for item in items:
        if isinstance(item, Folder):
            text = clean_line(item.text)
            group = ET.SubElement(body, "outline", text=text, title=text)
            for o in item.outlines:
                _outline(group, o, language)
        else:
            _outline(body, item, language)
    ET.indent(root, space="  ")
    text = ET.tostring(root, encoding="unicode", xml_declaration=False)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n").encode("utf-8")


def _outline(parent: ET.Element, o: Outline, language: str) -> None:
    attrs = {
        "type": "rss",
        "text": clean_line(o.text),
        "title": clean_line(o.text),
        "xmlUrl": o.xml_url,
        "htmlUrl": o.html_url,
        "language": language,
    }
    if o.description:
        attrs["description"] = clean_line(o.description)
    ET.SubElement(parent, "outline", attrs)


# Text with everything XML escapes, tone marks, đ, and line breaks and tabs.
_text = st.text(alphabet="aĐđếệộ &<>\"'\r\n\t/:?=;#\x85\u2028", max_size=12)
_outlines = st.builds(Outline, _text, _text, _text, st.none() | _text)
_items = st.lists(_outlines | st.builds(Folder, _text, st.lists(_outlines, max_size=3)), max_size=4)


def test_a_department_listing() -> None:
    items: list[Outline | Folder] = [
        Outline("Tin tức", "https://x.vn/feeds/tin-tuc.rss", "https://x.vn/", "Mục “tin” & ảnh"),
        Folder(
            "Hoạt động",
            [Outline("Hội nghị", "https://x.vn/feeds/a/b.rss?x=1&y=2", "https://x.vn/")],
        ),
        Folder("Trống", []),
    ]
    kw = {
        "modified": datetime(2026, 12, 1, tzinfo=UTC),
        "owner": "Ban Tuyên giáo",
        "language": "vi",
    }
    out = render_opml("Nguồn tin Ban Tuyên giáo", items, **kw)  # type: ignore[arg-type]
    assert out == reference("Nguồn tin Ban Tuyên giáo", items, **kw)  # type: ignore[arg-type]
    assert b"a/b.rss?x=1&amp;y=2" in out and "“tin” &amp; ảnh".encode() in out
    ET.fromstring(out)  # well-formed


@settings(max_examples=300, deadline=None)
@given(
    title=_text,
    items=_items,
    modified=st.none() | st.just(datetime(2026, 12, 1, 8, 30, tzinfo=UTC)),
    owner=st.none() | _text,
    language=_text,
)
def test_the_same_bytes_as_elementtree(
    title: str,
    items: list[Outline | Folder],
    modified: datetime | None,
    owner: str | None,
    language: str,
) -> None:
    kw = {"modified": modified, "owner": owner, "language": language}
    assert render_opml(title, items, **kw) == reference(title, items, **kw)  # type: ignore[arg-type]

"""OPML 2.0 (http://opml.org/spec2.opml) of the feeds a reader should import:
feed outlines, optionally grouped in folders (one per top-level category), so a
reader imports them all in one step. Pure."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from ..text import clean_line
from .catalog import FeedSpec


@dataclass(frozen=True, slots=True)
class Outline:
    text: str
    xml_url: str
    html_url: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Folder:
    text: str
    outlines: Sequence[Outline]


def render_opml(
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


def import_groups(
    specs: Sequence[FeedSpec], counts: dict[str, int]
) -> list[tuple[str | None, list[FeedSpec]]]:
    """The category feeds a reader should import, without overlap: the leaves
    (every article is in exactly one), grouped by top-level category — ``(folder
    name, feeds)``, the name None for a top-level category without sub-categories.
    A parent with articles of its own (``counts``: articles per slug path, its
    descendants' included) is kept too: the only overlap, and only then."""
    specs = [s for s in specs if s.depth >= 1]
    by_key = {s.key: s for s in specs}
    kids: dict[str, list[FeedSpec]] = {}  # the feeds one level below a feed
    has_below: set[str] = set()  # feeds with any feed below them
    for s in specs:
        parts = s.key.split("/")
        for i in range(1, len(parts)):
            above = by_key.get("/".join(parts[:i]))
            if above is not None:
                has_below.add(above.key)
                if s.depth == above.depth + 1:
                    kids.setdefault(above.key, []).append(s)

    def wanted(spec: FeedSpec) -> bool:
        children = kids.get(spec.key, [])
        if not children:
            return spec.key not in has_below
        return counts.get(spec.key, 0) > sum(counts.get(s.key, 0) for s in children)

    groups: dict[str, list[FeedSpec]] = {}
    names: dict[str, str] = {}
    for spec in specs:
        top = spec.key.split("/")[0]
        groups.setdefault(top, [])
        names.setdefault(top, spec.names[0])
        if wanted(spec):
            groups[top].append(spec)
    out: list[tuple[str | None, list[FeedSpec]]] = []
    for top, feeds in groups.items():
        if feeds == [s for s in specs if s.key == top]:
            out.append((None, feeds))  # a top-level leaf
        elif feeds:
            out.append((names[top], feeds))
    return out

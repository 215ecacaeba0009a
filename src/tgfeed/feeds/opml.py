"""OPML 2.0 of every feed (http://opml.org/spec2.opml): one folder holding one
RSS outline per feed, so a reader imports them all in one step. Pure."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from ..text import clean_line


@dataclass(frozen=True, slots=True)
class Outline:
    text: str
    xml_url: str
    html_url: str
    description: str | None = None


def render_opml(
    title: str,
    folder: str,
    outlines: Sequence[Outline],
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
    group = ET.SubElement(body, "outline", text=clean_line(folder), title=clean_line(folder))
    for o in outlines:
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
        ET.SubElement(group, "outline", attrs)
    ET.indent(root, space="  ")
    text = ET.tostring(root, encoding="unicode", xml_declaration=False)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n").encode("utf-8")

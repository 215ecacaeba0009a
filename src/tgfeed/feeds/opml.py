"""OPML 2.0 (http://opml.org/spec2.opml) of the feeds a reader should import:
feed outlines, optionally grouped in folders (one per top-level category), so a
reader imports them all in one step. Pure."""

from __future__ import annotations

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
    """The document, written as ``xml.etree.ElementTree`` writes it after
    ``ET.indent(root, space="  ")`` (the same bytes: ``tests/test_opml_bytes.py``),
    without building the tree: it is rendered at every build."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n  <head>\n']
    out.append(_text_element("title", clean_line(title)))
    if modified is not None:
        out.append(_text_element("dateModified", format_datetime(modified, usegmt=True)))
    if owner:
        out.append(_text_element("ownerName", clean_line(owner)))
    out.append("  </head>\n")
    if not items:
        out.append("  <body />\n")
    else:
        out.append("  <body>\n")
        for item in items:
            if isinstance(item, Folder):
                text = _attr(clean_line(item.text))
                head = f'    <outline text="{text}" title="{text}"'
                if not item.outlines:
                    out.append(head + " />\n")
                    continue
                out.append(head + ">\n")
                out += [_outline(o, language, "      ") for o in item.outlines]
                out.append("    </outline>\n")
            else:
                out.append(_outline(item, language, "    "))
        out.append("  </body>\n")
    out.append("</opml>\n")
    return "".join(out).encode("utf-8")


def _outline(o: Outline, language: str, indent: str) -> str:
    text = _attr(clean_line(o.text))
    line = (
        f'{indent}<outline type="rss" text="{text}" title="{text}" xmlUrl="{_attr(o.xml_url)}"'
        f' htmlUrl="{_attr(o.html_url)}" language="{_attr(language)}"'
    )
    if o.description:
        line += f' description="{_attr(clean_line(o.description))}"'
    return line + " />\n"


def _text_element(tag: str, text: str) -> str:
    if not text:
        return f"    <{tag} />\n"
    return f"    <{tag}>{_cdata(text)}</{tag}>\n"


def _cdata(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text: str) -> str:
    return (
        _cdata(text)
        .replace('"', "&quot;")
        .replace("\r", "&#13;")
        .replace("\n", "&#10;")
        .replace("\t", "&#09;")
    )


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

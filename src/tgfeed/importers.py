"""Reading inputs into articles: page files, JSON Lines, CSV; and the export record.

Each input item becomes an Article or an IngestError naming the file, the line
and what is wrong; one bad item never stops the others.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .errors import IngestError
from .ids import article_id, authority, normalise_tag
from .model import Article
from .parser import PageSource, decode, parse_page
from .sanitize import paragraphs_html, sanitize_html, text_of
from .text import (
    LOCAL_TZ,
    clean,
    clean_block,
    clean_line,
    clean_lines,
    is_http_url,
    iso_local,
    parse_iso_datetime,
    parse_site_datetime,
    slugify,
    summarize,
)

PAGE_SUFFIXES = {".txt", ".html", ".htm", ".aspx"}
RECORD_SUFFIXES = {".jsonl", ".ndjson", ".csv"}
SUFFIXES = PAGE_SUFFIXES | RECORD_SUFFIXES

EXPORT_FIELDS = (
    "id",
    "url",
    "title",
    "category",
    "category_slug",
    "published",
    "updated",
    "author",
    "views",
    "summary",
    "body_html",
    "body_text",
    "signature",
    "related",
)

Item = tuple[str, Article | IngestError]


def expand(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given; folders walked (sorted) for the suffixes we read."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in SUFFIXES:
                    yield child
        else:
            yield path


def read_path(path: Path, site_url: str, tz: ZoneInfo = LOCAL_TZ) -> Iterator[Item]:
    """Every item of one file, each an Article or the IngestError it raised."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        yield (
            str(path),
            IngestError(
                f"{path}: unknown file type {suffix or '(none)'!r}",
                hint="import .txt/.html pages, .jsonl or .csv files",
            ),
        )
        return
    if suffix in (".jsonl", ".ndjson"):
        yield from _stream_jsonl(path, site_url, tz)
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield str(path), IngestError(f"{path}: cannot read: {exc.strerror}")
        return
    if suffix in PAGE_SUFFIXES:
        try:
            yield str(path), parse_page(data, PageSource(path.name, None, site_url, tz))
        except IngestError as exc:
            exc.message = exc.message.replace(path.name, str(path), 1)
            yield str(path), exc
        return
    text = decode(data)
    if suffix == ".csv":
        yield from read_csv(text, str(path), site_url, tz)
    else:
        yield from read_jsonl(text, str(path), site_url, tz)


def _stream_jsonl(path: Path, site_url: str, tz: ZoneInfo) -> Iterator[Item]:
    """A JSON Lines file read line by line: memory stays flat for any size."""
    try:
        with path.open("rb") as f:
            for n, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    yield (
                        f"{path}:{n}",
                        IngestError(
                            f"{path}:{n}: not UTF-8 (byte {exc.start})",
                            hint="save the file as UTF-8",
                        ),
                    )
                    continue
                yield from _jsonl_line(line, f"{path}:{n}", site_url, tz)
    except OSError as exc:
        yield str(path), IngestError(f"{path}: cannot read: {exc.strerror}")


def read_jsonl(text: str, name: str, site_url: str, tz: ZoneInfo = LOCAL_TZ) -> Iterator[Item]:
    for n, line in enumerate(text.splitlines(), 1):
        yield from _jsonl_line(line, f"{name}:{n}", site_url, tz)


def _jsonl_line(line: str, label: str, site_url: str, tz: ZoneInfo) -> Iterator[Item]:
    if line.strip():
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            msg = getattr(exc, "msg", "too deeply nested")
            yield label, IngestError(f"{label}: not valid JSON: {msg}")
            return
        try:
            yield label, article_from_record(rec, label, site_url, tz)
        except IngestError as exc:
            yield label, exc


def read_csv(text: str, name: str, site_url: str, tz: ZoneInfo = LOCAL_TZ) -> Iterator[Item]:
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        start = 2  # the line where the next record begins (after the header)
        for row in reader:
            label = f"{name}:{start}"
            start = reader.line_num + 1
            rec: dict[str, Any] = {k.strip(): v for k, v in row.items() if isinstance(k, str)}
            if None in row:
                yield label, IngestError(f"{label}: more cells than header columns")
                continue
            cat = rec.get("category")
            if isinstance(cat, str):
                rec["category"] = [c.strip() for c in cat.replace("›", "»").split("»") if c.strip()]
            rel = rec.get("related")
            if isinstance(rel, str):
                rec["related"] = [t.strip() for t in rel.split(" | ") if t.strip()]
            if rec.get("views") in ("", None):
                rec.pop("views", None)
            for key in ("author", "signature", "summary", "updated", "category_slug", "id"):
                if rec.get(key) == "":
                    rec.pop(key)
            try:
                yield label, article_from_record(rec, label, site_url, tz)
            except IngestError as exc:
                yield label, exc
    except csv.Error as exc:
        yield name, IngestError(f"{name}: CSV error: {exc}")


def _str(rec: dict[str, Any], key: str, label: str, *, required: bool = False) -> str | None:
    value = rec.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise IngestError(f"{label}: missing {key!r}")
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise IngestError(f"{label}: {key!r} must be text, not {type(value).__name__}")
    return str(value)


def _when(value: str, key: str, label: str, tz: ZoneInfo) -> datetime:
    try:
        if "/" in value:
            return parse_site_datetime(value, tz)
        return parse_iso_datetime(value, tz)
    except (ValueError, OverflowError):
        raise IngestError(
            f"{label}: {key!r} is not a date: {value[:40]!r}",
            hint="use ISO 8601 (2026-11-24T08:15:00+07:00) or dd/mm/yyyy - h:mm:ss AM",
        ) from None


_LINE_FIELDS = ("title", "url", "id", "author", "summary", "signature")


def _same(text: str) -> str:
    return text


def _lines_clean(rec: dict[str, Any]) -> bool:
    """Every one-line text of the record is a string `clean_line` would leave as it is
    (checked in one pass); then the per-field cleaning is skipped, changing nothing."""
    texts = [v for k in _LINE_FIELDS if isinstance(v := rec.get(k), str)]
    for key in ("category", "related"):
        values = rec.get(key)
        if values is None and key == "related":
            continue
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return False  # the full path cleans (or refuses) them one by one
        texts += values
    return clean_lines(texts)


def article_from_record(rec: Any, label: str, site_url: str, tz: ZoneInfo = LOCAL_TZ) -> Article:
    """A JSON/CSV record (the export's fields; most optional) into an Article."""
    if not isinstance(rec, dict):
        raise IngestError(f"{label}: expected a JSON object, got {type(rec).__name__}")
    known = set(EXPORT_FIELDS)
    unknown = sorted(k for k in rec if k not in known)
    if unknown:
        raise IngestError(f"{label}: unknown field(s): {', '.join(map(str, unknown))[:200]}")
    line = _same if _lines_clean(rec) else clean_line
    title = line(_str(rec, "title", label, required=True) or "")
    if not title:
        raise IngestError(f"{label}: 'title' is empty")
    url = _str(rec, "url", label)
    ident = _str(rec, "id", label)
    if url is not None:
        url = line(url)
        if not is_http_url(url):
            raise IngestError(f"{label}: 'url' must be an http(s) URL: {url[:80]!r}")
    if ident is None:
        if url is None:
            raise IngestError(f"{label}: needs 'id' or 'url' (a stable identity)")
        ident = article_id(url, authority(site_url))
    ident = normalise_tag(line(ident))
    if url is None:
        url = f"{site_url}/bai-viet/{slugify(title)}.aspx"
    category, slugs = _categories(rec, label, line)
    published = _when(_str(rec, "published", label, required=True) or "", "published", label, tz)
    updated_s = _str(rec, "updated", label)
    updated = _when(updated_s, "updated", label, tz) if updated_s else None
    views = _views(rec, label)
    body_text, body_html = _body(rec, label, url)
    summary = _str(rec, "summary", label)
    if summary is None:
        first = next((p for p in body_text.split("\n\n") if p.strip()), title)
        summary = summarize(first)
    related_raw = rec.get("related") or []
    if not isinstance(related_raw, list) or not all(isinstance(r, str) for r in related_raw):
        raise IngestError(f"{label}: 'related' must be a list of titles")
    author = _str(rec, "author", label)
    signature = _str(rec, "signature", label)
    return Article(
        id=ident,
        url=url,
        title=title,
        category=category,
        category_slugs=slugs,
        published_at=published,
        updated_at=updated,
        author=line(author) or None if author else None,
        views=views,
        summary=line(summary),
        body_text=body_text,
        body_html=body_html,
        signature=line(signature) or None if signature else None,
        related=tuple(r for r in (line(x) for x in related_raw) if r),
    )


def _categories(
    rec: dict[str, Any], label: str, line: Callable[[str], str]
) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """The record's category path (names, "A » B" or a list) and its slugs if given."""
    cat = rec.get("category")
    if isinstance(cat, str):
        cat = [c for c in (x.strip() for x in cat.split("»")) if c]
    if not isinstance(cat, list) or not cat or not all(isinstance(c, str) for c in cat):
        raise IngestError(f"{label}: 'category' must be a non-empty list of names")
    category = tuple(line(c) for c in cat)
    if any(not c or not slugify(c) for c in category):
        raise IngestError(f"{label}: 'category' has an empty name")
    slugs: tuple[str, ...] | None = None
    slug_path = _str(rec, "category_slug", label)
    if slug_path:
        parts = tuple(slug_path.strip("/").split("/"))
        if len(parts) != len(category) or any(slugify(p) != p or not p for p in parts):
            raise IngestError(
                f"{label}: 'category_slug' {slug_path[:80]!r} does not match 'category'"
            )
        slugs = parts
    return category, slugs


def _views(rec: dict[str, Any], label: str) -> int:
    views_raw = rec.get("views", 0)
    try:
        views = int(views_raw or 0)
        if views < 0 or views > 2**62:
            raise ValueError
    except (TypeError, ValueError):
        raise IngestError(f"{label}: 'views' must be a whole number ≥ 0") from None
    return views


def _body(rec: dict[str, Any], label: str, url: str) -> tuple[str, str]:
    """The body as (clean text, sanitised HTML): either one given makes the other."""
    body_html_raw = _str(rec, "body_html", label)
    body_text_raw = _str(rec, "body_text", label)
    if body_html_raw is None and body_text_raw is None:
        raise IngestError(f"{label}: needs 'body_text' or 'body_html'")
    body_text = clean_block(body_text_raw) if body_text_raw is not None else ""
    if body_html_raw is not None:
        body_html = sanitize_html(body_html_raw, url)
        if body_text_raw is None:
            body_text = text_of(body_html)
    else:
        body_html = paragraphs_html([p for p in body_text.split("\n\n") if p])
    return body_text, body_html


def export_record(a: Article, tz: ZoneInfo = LOCAL_TZ) -> dict[str, Any]:
    """The JSON Lines export record (DESIGN.md's fields, in that order)."""
    return {
        "id": a.id,
        "url": a.url,
        "title": a.title,
        "category": list(a.category),
        "category_slug": a.category_slug,
        "published": iso_local(a.published_at, tz),
        "updated": iso_local(a.updated_at or a.published_at, tz),
        "author": a.author,
        "views": a.views,
        "summary": a.summary,
        "body_html": a.body_html,
        "body_text": a.body_text,
        "signature": a.signature,
        "related": list(a.related),
    }


def export_line(a: Article, tz: ZoneInfo = LOCAL_TZ) -> str:
    return json.dumps(export_record(a, tz), ensure_ascii=False, separators=(",", ":"))


__all__ = [
    "EXPORT_FIELDS",
    "article_from_record",
    "clean",
    "expand",
    "export_line",
    "export_record",
    "read_csv",
    "read_jsonl",
    "read_path",
]

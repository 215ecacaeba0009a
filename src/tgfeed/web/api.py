"""The push API for the CMS: ``POST /api/articles`` and ``DELETE /api/articles/<id>``.

Bearer token from ``[web] api_token_env`` / ``api_token_file`` (compared in
constant time); no token configured → the API is off (403). The body is one
article or a list in the export/import record format; every problem is listed
with its field path (422) and nothing is stored unless every article is valid;
the body is size-limited while it is read (413). Re-pushing the same article
is harmless: the store answers "unchanged".
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..app import LiveApp
from ..errors import ConfigError, IngestError, StoreError
from ..importers import EXPORT_FIELDS, article_from_record
from ..jobs.ingest import record_ingest, store_batch
from ..model import Article, BatchResult, ItemResult
from ..websub import publish_changes
from .common import get_app, token_ok

MAX_ITEMS = 1000
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_TEXT_FIELDS = (
    "id",
    "url",
    "title",
    "category_slug",
    "published",
    "updated",
    "author",
    "summary",
    "body_html",
    "body_text",
    "signature",
)
_REQUIRED = ("title", "published")
_QUOTED_FIELD = re.compile(r"'([a-z_]+)'")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _json(status: int, payload: dict[str, Any], **headers: str) -> JSONResponse:
    return JSONResponse(payload, status_code=status, headers={**_HEADERS, **headers})


def _error(status: int, message: str, hint: str | None = None, **headers: str) -> JSONResponse:
    payload: dict[str, Any] = {"error": message}
    if hint:
        payload["hint"] = hint
    return _json(status, payload, **headers)


def _auth(request: Request) -> Response | None:
    """None when the request carries the configured token; else the refusal."""
    try:
        expected = get_app(request).config.web.api_token()
    except ConfigError as exc:
        return _error(403, f"the push API is off: {exc.message}", exc.hint)
    if not expected:
        return _error(
            403,
            "the push API is off: no API token is configured",
            "set [web] api_token_env or api_token_file in the config and restart",
        )
    if not token_ok(request, expected):
        return _error(
            401,
            "missing or wrong bearer token",
            "send the header Authorization: Bearer <token>",
            **{"WWW-Authenticate": 'Bearer realm="tgfeed"'},
        )
    return None


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (without reading the rest) once it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _path(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def record_problems(rec: Any, prefix: str) -> list[dict[str, str]]:
    """Every structural problem of one record, each with its field path."""
    where = prefix or "(body)"
    if not isinstance(rec, dict):
        return [{"path": where, "message": f"must be an object, not {_type(rec)}"}]
    problems: list[dict[str, str]] = []

    def add(key: str, message: str) -> None:
        problems.append({"path": _path(prefix, key), "message": message})

    for key in rec:
        if key not in EXPORT_FIELDS:
            # Quoted unless a plain name: an empty or multi-line key still names a path.
            name = key if _PLAIN_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)
            add(name, f"unknown field (known: {', '.join(EXPORT_FIELDS)})")
    for key in _REQUIRED:
        if rec.get(key) in (None, ""):
            add(key, "required")
    if rec.get("id") in (None, "") and rec.get("url") in (None, ""):
        add("id", "give id or url (a stable identity)")
    if rec.get("body_text") in (None, "") and rec.get("body_html") in (None, ""):
        add("body_text", "give body_text or body_html")
    for key in _TEXT_FIELDS:
        value = rec.get(key)
        if value is not None and not isinstance(value, str):
            add(key, f"must be a string, not {_type(value)}")
    url = rec.get("url")
    if isinstance(url, str) and url and not url.startswith(("http://", "https://")):
        add("url", "must be an http(s) URL")
    cat = rec.get("category")
    if cat is None or cat == "" or cat == []:
        add("category", "required: a list of names from the top, e.g. ['Tin tức', 'Trong tỉnh']")
    elif isinstance(cat, list):
        for i, name in enumerate(cat):
            if not isinstance(name, str) or not name.strip():
                add(f"category[{i}]", "must be a non-empty string")
    elif not isinstance(cat, str):
        add("category", f"must be a list of names, not {_type(cat)}")
    views = rec.get("views")
    if views is not None and (isinstance(views, bool) or not isinstance(views, int) or views < 0):
        add("views", "must be a whole number ≥ 0")
    related = rec.get("related")
    if related is not None:
        if not isinstance(related, list):
            add("related", f"must be a list of titles, not {_type(related)}")
        else:
            for i, title in enumerate(related):
                if not isinstance(title, str):
                    add(f"related[{i}]", f"must be a string, not {_type(title)}")
    return problems


def _type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")


def _records_of(body: Any) -> list[tuple[str, Any]] | Response:
    """The body's records with their JSON path prefix (one article or a list), or the
    response refusing the list."""
    if not isinstance(body, list):
        return [("", body)]
    if not body:
        return _json(422, {"error": "the list is empty", "problems": []})
    if len(body) > MAX_ITEMS:
        return _error(413, f"at most {MAX_ITEMS} articles per request, got {len(body)}")
    return [(f"[{i}]", rec) for i, rec in enumerate(body)]


def _articles_from(
    records: list[tuple[str, Any]], site: str, tz: ZoneInfo
) -> tuple[list[Article], list[dict[str, str]]]:
    """The articles of the body's records, or every problem of every record (with its
    JSON path); the caller stores nothing when there is a problem."""
    problems: list[dict[str, str]] = []
    articles: list[Article] = []
    for prefix, rec in records:
        found = record_problems(rec, prefix)
        if found:
            problems.extend(found)
            continue
        try:
            articles.append(article_from_record(rec, prefix or "article", site, tz))
        except IngestError as exc:
            message = exc.message
            label = prefix or "article"
            if message.startswith(label + ": "):
                message = message[len(label) + 2 :]
            m = _QUOTED_FIELD.search(message)
            key = m[1] if m and m[1] in EXPORT_FIELDS else None
            path = _path(prefix, key) if key else prefix or "(body)"
            problems.append({"path": path, "message": message})
    return articles, problems


async def post_articles(request: Request) -> Response:
    refused = _auth(request)
    if refused is not None:
        return refused
    app = get_app(request)
    limit = app.config.web.max_body_bytes
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype and ctype != "application/json" and not ctype.endswith("+json"):
        return _error(415, f"send JSON (Content-Type: application/json), not {ctype}")
    try:
        raw = await _read_body(request, limit)
    except _TooLarge:
        return _error(
            413,
            f"the body is larger than {limit:,} bytes",
            "send fewer articles per request, or raise [web] max_body_bytes",
            Connection="close",
        )
    except ClientDisconnect:
        return _error(400, "the client disconnected before sending the whole body")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        detail = getattr(exc, "msg", None) or type(exc).__name__
        pos = getattr(exc, "pos", None)
        at = f" at byte {pos}" if pos is not None else ""
        return _error(400, f"the body is not valid JSON: {detail}{at}")
    records = _records_of(body)
    if isinstance(records, Response):
        return records
    articles, problems = _articles_from(records, app.config.site.url, app.tz)
    if problems:
        return _json(
            422,
            {
                "error": f"{len(problems)} problem{'s' if len(problems) != 1 else ''}; "
                "nothing was stored",
                "problems": problems,
            },
        )
    started = app.now()
    result = BatchResult()
    items: list[ItemResult] = []
    if not store_batch(app, [(art.url, art) for art in articles], result, on_item=items.append):
        reason = result.failures[0].reason if result.failures else None
        return _error(503, reason or "the store refused the batch", "try again later")
    record_ingest(app, "api", result, started=started)
    _announce(request)
    return _json(
        200,
        {
            "results": [{"id": r.article_id, "url": r.item, "outcome": r.outcome} for r in items],
            "counts": result.counts,
        },
    )


async def delete_article(request: Request) -> Response:
    refused = _auth(request)
    if refused is not None:
        return refused
    app = get_app(request)
    article_id = request.path_params["article_id"]
    reason = (request.query_params.get("reason") or "").strip()[:500] or None
    try:
        tomb, _ = app.store.feeds.retract(article_id, now=app.now(), reason=reason, origin="api")
    except StoreError as exc:
        return _error(503, exc.message, "try again later")
    if tomb is None:
        return _error(404, f"no article with id {article_id!r}")
    # Retracted now or before (a repeat is idempotent): readers get the tombstone.
    _announce(request)
    return Response(status_code=204, headers=_HEADERS)


_TASKS: set[asyncio.Task[Any]] = set()


def _announce(request: Request) -> None:
    """WebSub: tell the hub about the feeds this change altered, after the response.
    The task pins the App current when it runs (a reload may retire this request's)."""
    if get_app(request).config.feeds.hub:
        task = asyncio.get_running_loop().create_task(_publish(request.app.state.tgfeed))
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)


async def _publish(live: LiveApp) -> None:
    with live.use() as app:
        await publish_changes(app)


def routes() -> list[BaseRoute]:
    return [
        Route("/api/articles", post_articles, methods=["POST"]),
        Route("/api/articles/{article_id:path}", delete_article, methods=["DELETE"]),
    ]

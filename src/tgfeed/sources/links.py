"""Pure helpers of the crawler: links of a listing page, which of them to follow,
and bytes → text for a fetched page. No I/O."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

from ..parser import decode

_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_\-:.]+)""", re.I)


class _Links(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base":
            href = dict(attrs).get("href")
            if href:
                self.base = urljoin(self.base, href.strip())
        elif tag in ("a", "area") or (tag == "link" and dict(attrs).get("rel") == "next"):
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href.strip())


def extract_links(html: str, base_url: str) -> list[str]:
    """Absolute http(s) links of a page, in page order, without duplicates or #fragments."""
    parser = _Links(base_url)
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # pathological markup: keep what was found
        pass
    seen: dict[str, None] = {}
    for href in parser.hrefs:
        try:
            url = urldefrag(urljoin(parser.base, href))[0]
            parts = urlsplit(url)
        except ValueError:
            continue
        if parts.scheme in ("http", "https") and parts.hostname:
            seen.setdefault(url, None)
    return list(seen)


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def follows(url: str, pattern: re.Pattern[str], hosts: set[str]) -> bool:
    """Does ``url`` match ``pattern`` (searched in the absolute URL) on an allowed host?"""
    return host_of(url) in hosts and pattern.search(url) is not None


def charset_of(content_type: str | None) -> str | None:
    m = _CHARSET.search(content_type or "")
    return m[1] if m else None


def page_text(body: bytes, declared: str | None) -> str:
    """Bytes that are valid UTF-8 are UTF-8 whatever the label says (a mislabelled
    page); otherwise the declared charset, the page's meta charset, then windows-1258."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return decode(body, declared)
    return decode(body, "utf-8")


def crawl_delay(robots_txt: str, agent: str) -> float | None:
    """The Crawl-delay for ``agent`` (else for ``*``); fractions allowed, unlike robotparser."""
    found: dict[str, float] = {}
    agents: list[str] = []
    in_rules = False
    for raw in robots_txt.splitlines():
        line = raw.split("#", 1)[0].strip()
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "user-agent":
            if in_rules:
                agents, in_rules = [], False
            agents.append(value.lower())
        elif key == "crawl-delay":
            in_rules = True
            try:
                delay = float(value)
            except ValueError:
                continue
            for name in agents:
                found.setdefault(name, delay)
        elif key:
            in_rules = True
    token = agent.lower()
    mine = next((d for name, d in found.items() if name != "*" and name in token), None)
    return mine if mine is not None else found.get("*")


MAX_CRAWL_DELAY = 60.0  # seconds: a larger Crawl-delay is capped
_STATUS = re.compile(r"HTTP (\d{3})")


def host_delay(robots_delay: float | None, configured: float) -> float | None:
    """The delay between requests to a host whose robots.txt asks for
    ``robots_delay``: never below our ``configured`` delay, at most
    ``MAX_CRAWL_DELAY``; None when robots.txt asks nothing."""
    if robots_delay is None:
        return None
    return min(max(robots_delay, configured), MAX_CRAWL_DELAY)


def robots_unavailable(failure: str) -> str | None:
    """What a failed fetch of robots.txt means (RFC 9309), from the fetch error's
    message: None when the site has no rules for us (a 4xx; a redirect to another
    host, or a file too large, are read as none too), else the reason nothing of
    the host is crawled for now (a 5xx, unreachable)."""
    m = _STATUS.search(failure)
    if m and 400 <= int(m[1]) < 500:
        return None
    if "redirected to another host" in failure or "larger than" in failure:
        return None
    reason = failure.split(": ", 1)[-1]
    return f"robots.txt unavailable ({reason}); not crawling this host now"


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``; the port explicit or the scheme's default."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ("", "", None)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def origin_text(url: str) -> str:
    scheme, host, port = origin_of(url)
    return f"{scheme}://{host}:{port}" if host else url


def redirect_targets(url: str, allowed_hosts: list[str]) -> set[tuple[str, str, int | None]]:
    """Where a fetch of ``url`` may be redirected: the same scheme, host and port;
    ``http`` → ``https`` on the same host between the default ports; and each
    ``allowed_hosts`` entry (``name`` on the same port, or ``name:port``), same scheme."""
    scheme, host, port = origin = origin_of(url)
    targets = {origin}
    if scheme == "http" and port == 80:
        targets.add(("https", host, 443))
    for entry in allowed_hosts:
        name, sep, extra = entry.lower().rpartition(":")
        if sep and extra.isdigit() and "]" not in extra:
            targets.add((scheme, name.strip("[]"), int(extra)))
        else:
            targets.add((scheme, entry.lower().strip("[]"), port))
    return targets

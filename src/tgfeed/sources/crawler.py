"""The polite, guarded HTTP client (the only module importing httpx; the SSRF guard it
connects through is ``sources.netguard``).

Politeness and safety, per source: a concurrency limit and a per-host delay
(raised to robots.txt's Crawl-delay), robots.txt honoured, an identifying
User-Agent, conditional GET (ETag / Last-Modified), a deadline per attempt
(slow, trickling responses included), retries with backoff on 5xx and timeouts,
a maximum page size read as a stream, http/https only, redirects followed only
on the same host (or ``allowed_hosts``), and an SSRF guard that refuses to
connect to loopback, private, link-local and other non-public addresses unless
``allow_private = true`` — checked at connect time on the resolved address, so
a DNS answer cannot change between the check and the connection.

The incremental site crawl built on it is in ``sources.site``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib import robotparser
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from ..config import SourceConfig
from ..errors import IngestError
from .links import (
    charset_of,
    crawl_delay,
    host_delay,
    host_of,
    origin_of,
    origin_text,
    page_text,
    redirect_targets,
    robots_unavailable,
)
from .netguard import BlockedAddress, GuardedBackend

RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_WAIT = 60.0
ROBOTS_MAX_BYTES = 512_000

Sleep = Callable[[float], Awaitable[None]]


class FetchError(IngestError):
    """One URL could not be fetched; the message names the URL and why. ``status``:
    the HTTP status when the server answered with an error (404, 410, …)."""

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None):
        super().__init__(message, hint=hint)
        self.status = status


class _Retry(Exception):
    """A failure worth another attempt (5xx, timeout, dropped connection)."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched URL: 200 with its body, or 304 (not modified) without one."""

    url: str
    final_url: str
    status: int
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def charset(self) -> str | None:
        return charset_of(self.content_type)

    def text(self) -> str:
        return page_text(self.body, self.charset)


@dataclass(slots=True)
class FetchStats:
    requests: int = 0
    fetched: int = 0  # 200 responses with a body
    not_modified: int = 0
    bytes: int = 0
    retries: int = 0
    robots_blocked: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "fetched": self.fetched,
            "not_modified": self.not_modified,
            "bytes": self.bytes,
            "retries": self.retries,
            "robots_blocked": self.robots_blocked,
        }


@dataclass(slots=True)
class _Robots:
    parser: robotparser.RobotFileParser | None  # None: allow everything
    denied: str | None = None  # robots.txt unavailable: deny everything, with this reason


class Fetcher:
    """An httpx client with one source's politeness and safety rules."""

    def __init__(
        self,
        source: SourceConfig,
        user_agent: str,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.user_agent = user_agent
        self.stats = FetchStats()
        self._sleep = sleep
        self._clock = clock
        self._sem = asyncio.Semaphore(source.concurrency)
        self._next_slot: dict[str, float] = {}
        self._delays: dict[str, float] = {}
        self._robots: dict[str, _Robots] = {}
        self._robot_locks: dict[str, asyncio.Lock] = {}
        self._agent_token = user_agent.split("/")[0].split()[0] if user_agent.strip() else "*"
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Fetcher:
        limits = httpx.Limits(
            max_connections=self.source.concurrency + 2,
            max_keepalive_connections=self.source.concurrency + 2,
        )
        transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
        if not self.source.allow_private:
            # The public constructor of httpcore's pool with a guarded network backend.
            transport._pool = httpcore.AsyncConnectionPool(
                ssl_context=httpx.create_ssl_context(trust_env=False),
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
                network_backend=GuardedBackend(),
            )
        self._client = httpx.AsyncClient(
            transport=transport,
            headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(self.source.timeout),
            follow_redirects=False,
            trust_env=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- public ------------------------------------------------------------

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        robots: bool = True,
        max_bytes: int | None = None,
    ) -> Page:
        """Fetch ``url`` (conditionally when given a validator); raise FetchError."""
        attempts = self.source.retries + 1
        last = "failed"
        for attempt in range(attempts):
            try:
                return await self._follow(url, etag, last_modified, robots, max_bytes)
            except _Retry as exc:
                last = exc.reason
                if attempt + 1 < attempts:
                    self.stats.retries += 1
                    wait = self.source.backoff * (2**attempt)
                    if exc.wait is not None:
                        wait = max(wait, exc.wait)
                    await self._sleep(min(wait, MAX_RETRY_WAIT))
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        raise FetchError(f"{url}: {last}{tries}")

    # -- one attempt, following redirects ------------------------------------

    async def _follow(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        robots: bool,
        max_bytes: int | None,
    ) -> Page:
        allowed = redirect_targets(url, self.source.allowed_hosts)
        seen = {url}
        current = url
        for _hop in range(self.source.max_redirects + 1):
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchError(f"{url}: only http and https URLs are fetched, not {current!r}")
            if robots and self.source.robots:
                await self._check_robots(url, current)
            resp = await self._request(current, etag, last_modified, max_bytes)
            status, headers, body = resp
            location = headers.get("location")
            if 300 <= status < 400 and status != 304 and location:
                target = urljoin(current, location.strip())
                if target in seen:
                    raise FetchError(f"{url}: redirect loop at {target}")
                if origin_of(target) not in allowed:
                    raise FetchError(
                        f"{url}: redirected to another host, port or scheme "
                        f"{origin_text(target)!r}; add it to allowed_hosts to follow"
                    )
                seen.add(target)
                current = target
                continue
            if status == 304:
                self.stats.not_modified += 1
                return Page(url, current, 304, b"", headers.get("etag") or etag, last_modified)
            if status in RETRY_STATUSES:
                raise _Retry(f"HTTP {status}", _retry_after(headers.get("retry-after")))
            if status != 200:
                raise FetchError(f"{url}: HTTP {status}", status=status)
            self.stats.fetched += 1
            return Page(
                url,
                current,
                200,
                body,
                headers.get("etag"),
                headers.get("last-modified"),
                headers.get("content-type"),
            )
        raise FetchError(f"{url}: more than {self.source.max_redirects} redirects")

    async def _request(
        self, url: str, etag: str | None, last_modified: str | None, max_bytes: int | None
    ) -> tuple[int, httpx.Headers, bytes]:
        assert self._client is not None, "use `async with Fetcher(...)`"
        limit = max_bytes or self.source.max_bytes
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with self._sem:
            # The turn is taken inside the semaphore: requests that queued behind a slow
            # one still leave one by one, spaced by the delay, never in a burst.
            await self._wait_turn(host_of(url))
            self.stats.requests += 1
            resp: httpx.Response | None = None
            try:
                async with asyncio.timeout(self.source.timeout):
                    resp = await self._client.send(
                        self._client.build_request("GET", url, headers=headers), stream=True
                    )
                    return resp.status_code, resp.headers, await _read_body(resp, url, limit)
            except TimeoutError:
                raise _Retry(f"timed out after {self.source.timeout:g}s") from None
            except httpx.TimeoutException:
                raise _Retry(f"timed out after {self.source.timeout:g}s") from None
            except BlockedAddress as exc:
                raise FetchError(f"{url}: {exc}") from None
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                raise _Retry(f"connection broken: {exc or type(exc).__name__}") from None
            except httpx.ConnectError as exc:
                raise _Retry(f"cannot connect: {exc or type(exc).__name__}") from None
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # bad gzip, bad URL, …
                raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
            except FetchError:
                raise
            except Exception as exc:  # e.g. an invalid port surfacing from the socket layer
                raise FetchError(f"{url}: {_describe(exc)}") from None
            finally:
                if resp is not None:
                    self.stats.bytes += resp.num_bytes_downloaded
                    await resp.aclose()

    async def _wait_turn(self, host: str) -> None:
        """Space the requests to one host by the source's delay (or Crawl-delay)."""
        delay = self._delays.get(host, self.source.delay)
        if delay <= 0:
            return
        now = self._clock()
        start = max(now, self._next_slot.get(host, 0.0))
        self._next_slot[host] = start + delay
        if start > now:
            await self._sleep(start - now)

    # -- robots.txt ----------------------------------------------------------

    async def _check_robots(self, url: str, current: str) -> None:
        parts = urlsplit(current)
        key = f"{parts.scheme}://{parts.netloc}".lower()
        lock = self._robot_locks.setdefault(key, asyncio.Lock())
        async with lock:
            robots = self._robots.get(key)
            if robots is None:
                robots = await self._load_robots(key)
                self._robots[key] = robots
        if robots.denied:
            self.stats.robots_blocked += 1
            raise FetchError(f"{url}: {robots.denied}")
        if robots.parser is not None and not robots.parser.can_fetch(self._agent_token, current):
            self.stats.robots_blocked += 1
            raise FetchError(f"{url}: disallowed by {key}/robots.txt")

    async def _load_robots(self, origin: str) -> _Robots:
        """RFC 9309: 4xx → no rules; 5xx or unreachable → everything disallowed for now."""
        try:
            page = await self.get(f"{origin}/robots.txt", robots=False, max_bytes=ROBOTS_MAX_BYTES)
        except FetchError as exc:
            return _Robots(None, robots_unavailable(exc.message))
        text = page.text()
        parser = robotparser.RobotFileParser()
        parser.parse(text.splitlines())
        delay = host_delay(crawl_delay(text, self._agent_token), self.source.delay)
        if delay is not None:
            self._delays[host_of(origin)] = delay
        return _Robots(parser)


async def _read_body(resp: httpx.Response, url: str, limit: int) -> bytes:
    """The body of a 200, at most ``limit`` bytes. Every body is read (a 304's or a
    redirect's is empty, an error page's is small): a response read to its end keeps
    the connection alive for the next request; only a 200's body is kept."""
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchError(
            f"{url}: page of {int(declared):,} bytes is larger than max_bytes = {limit:,}"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise FetchError(f"{url}: page is larger than max_bytes = {limit:,}; stopped reading")
        if resp.status_code == 200:
            chunks.append(chunk)
    return b"".join(chunks)


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None

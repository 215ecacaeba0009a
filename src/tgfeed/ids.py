"""Article and feed ids: RFC 4151 ``tag:`` URIs, made by one set of functions for
every path that creates an article (crawl, page import, JSON Lines, CSV, the push
API, other sites' feeds), so that the same page always gets the same id.

    tag:<authority>,2018:<specific>

The authority is the site's host name, lower case, without port or user info
(``https://User@TuyenGiaoHungYen.vn:8443`` → ``tuyengiaohungyen.vn``; a
non-ASCII name in its IDNA form). The specific part is percent-encoded where
RFC 4151 requires it. The site's numeric article id is used when the URL carries
one (``/bai-viet/hoi-nghi-3609.aspx`` → ``bai-viet/3609``), so a renamed slug
keeps its id.

Pure: no I/O.
"""

from __future__ import annotations

import functools
import hashlib
import re
from urllib.parse import quote, urlsplit, urlunsplit

from .text import slugify

ID_DATE = "2018"  # the tag URI date: when the department held its domain

_TRAILING_NUMBER = re.compile(r"-(\d+)(?:\.aspx|\.html?)?$", re.I)
_DNS_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$")
# RFC 4151: specific = *( pchar / "/" / "?" ), pchar per RFC 3986; fragment the same.
_SPECIFIC_SAFE = "/?:@!$&'()*+,;=-._~"
_TAG = re.compile(
    r"^tag:(?P<auth>[^,]*),(?P<date>\d{4}(?:-\d{2}(?:-\d{2})?)?):(?P<specific>[^#]*)(?:#(?P<frag>.*))?$",
    re.S,
)
_VALID_SPECIFIC = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$")

__all__ = [
    "ID_DATE",
    "article_id",
    "authority",
    "feed_entry_id",
    "feed_id",
    "is_valid_tag",
    "normalise_site_url",
    "normalise_tag",
    "page_id",
]


def _host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host


@functools.lru_cache(maxsize=64)
def authority(site_url: str) -> str:
    """The tag authority of a site URL: its host, lower case, no port, no user info."""
    host = _host(urlsplit(site_url.strip()).hostname or "")
    return host if _DNS_NAME.match(host) else "localhost"


def normalise_site_url(url: str) -> str:
    """``site.url`` as stored once by the config: scheme and host lower case, no user
    info, no default port, no trailing slash (a path is kept)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = _host(parts.hostname or "")
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port is None or port == default else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def _specific(text: str) -> str:
    text = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", text)
    return quote(text, safe=_SPECIFIC_SAFE + "%")


def _tag(auth: str, specific: str) -> str:
    return f"tag:{auth},{ID_DATE}:{_specific(specific)}"


def article_id(url: str, auth: str) -> str:
    """A page of the site by its URL: the numeric id if the path has one, else the
    path without its extension. Host, port, query and fragment do not matter."""
    path = urlsplit(url.strip()).path.strip("/")
    m = _TRAILING_NUMBER.search(path)
    if m and "/" in path:
        return _tag(auth, f"{path.split('/')[0]}/{m[1]}")
    path = re.sub(r"\.(aspx|html?)$", "", path, flags=re.I)
    return _tag(auth, path or "index")


def page_id(stem: str, auth: str) -> str:
    """A page imported from a file without a URL: by its file name."""
    return _tag(auth, f"page/{slugify(stem) or 'page'}")


def feed_entry_id(source_name: str, guid: str, auth: str) -> str:
    """An entry of another site's feed: scoped to the source, by a hash of its guid."""
    digest = hashlib.blake2b(guid.strip().encode("utf-8"), digest_size=10).hexdigest()
    return _tag(auth, f"feed/{slugify(source_name) or 'feed'}/{digest}")


def feed_id(auth: str, key: str) -> str:
    """One of our own feeds (``all``, a category's slug path, ``search?q=…``)."""
    return _tag(auth, f"feeds/{key}")


def is_valid_tag(value: str) -> bool:
    """Whether ``value`` is a tag URI as RFC 4151 defines it (DNS-name authority)."""
    m = _TAG.match(value)
    if m is None:
        return False
    auth = m["auth"]
    name_ok = bool(_DNS_NAME.match(auth)) or (
        "@" in auth and bool(_DNS_NAME.match(auth.rsplit("@", 1)[1]))
    )
    frag = m["frag"] or ""
    return (
        name_ok and bool(_VALID_SPECIFIC.match(m["specific"])) and bool(_VALID_SPECIFIC.match(frag))
    )


def normalise_tag(value: str) -> str:
    """An id of an older shape in today's: the authority as ``authority()`` makes it
    (``tag:127.0.0.1:8080,2018:…`` and ``tag:Host.VN,2018:…`` → ``tag:host.vn,…``),
    the specific part percent-encoded. Anything that is not a tag URI is returned
    unchanged."""
    m = _TAG.match(value)
    if m is None:
        return value
    auth = m["auth"]
    if "@" not in auth or auth.count("@") != 1 or ":" in auth:
        auth = authority(f"http://{auth}")
    else:
        auth = auth.lower()
    out = f"tag:{auth},{m['date']}:{_specific(m['specific'])}"
    if m["frag"] is not None:
        out += "#" + _specific(m["frag"])
    return out

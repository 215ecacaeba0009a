"""Vietnamese text helpers: normalisation, folding, slugs, dates.

Pure functions; nothing here reads the clock or touches I/O.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# C0 controls except TAB, LF, CR; DEL..C1 controls; surrogates; U+FFFE/U+FFFF.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
# Whitespace that is not a line break, including NBSP, narrow NBSP, ZWSP-likes.
_INLINE_SPACE = re.compile("[ \t\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000\ufeff]+")
_LINE_BREAKS = re.compile("\r\n|\r|\u2028|\u2029|\x85")


def _is_clean_line(text: str) -> bool:
    """What `clean_line` would leave as it is, checked fast: printable (no controls,
    NBSP, zero-width or non-characters), no double or edge spaces, NFC."""
    return (
        text.isprintable()
        and "  " not in text
        and not text.startswith(" ")
        and not text.endswith(" ")
        and unicodedata.is_normalized("NFC", text)
    )


def clean(text: str) -> str:
    """NFC, XML-legal, line breaks as ``\\n``; inner spacing untouched."""
    text = _LINE_BREAKS.sub("\n", text)
    text = _XML_ILLEGAL.sub("", text)
    return unicodedata.normalize("NFC", text)


def xml_legal(text: str) -> str:
    """``text`` without XML-illegal characters, line breaks as ``\\n``; not normalised
    (for markup: NFC of a tag's ``>`` and a following U+0338 would unclose it)."""
    return _XML_ILLEGAL.sub("", _LINE_BREAKS.sub("\n", text))


def escape_marks(text: str) -> str:
    """``text`` (already escaped for HTML) with its leading combining marks written as
    character references: a text node that starts with U+0338 right after a tag's
    ``>`` can then never compose with it (``>`` + U+0338 is ``≯`` in NFC)."""
    i = 0
    while i < len(text) and unicodedata.category(text[i])[0] == "M":
        i += 1
    return "".join(f"&#x{ord(c):x};" for c in text[:i]) + text[i:] if i else text


def clean_line(text: str) -> str:
    """`clean`, then every run of spaces (NBSP included) folded to one, trimmed."""
    if _is_clean_line(text):
        return text
    return _INLINE_SPACE.sub(" ", clean(text).replace("\n", " ")).strip()


# Joins texts for one check of them all: a printable starter that composes with
# nothing on either side, so the join is NFC exactly when every text is.
_JOIN = "\u4e00"


def clean_lines(texts: list[str]) -> bool:
    """True when `clean_line` leaves every one of ``texts`` as it is: one pass over
    them all instead of one call each (an import's record has a dozen)."""
    joined = _JOIN.join(texts)
    return (
        joined.isprintable()
        and "  " not in joined
        and not any(t.startswith(" ") or t.endswith(" ") for t in texts)
        and unicodedata.is_normalized("NFC", joined)
    )


def clean_block(text: str) -> str:
    """Clean multi-line text: each line folded and trimmed, at most one blank line."""
    if (
        "\n\n\n" not in text
        and " \n" not in text
        and "\n " not in text
        and not text.startswith("\n")
        and not text.endswith("\n")
        and _is_clean_line(text.replace("\n", "x"))
    ):
        return text
    lines = [_INLINE_SPACE.sub(" ", line).strip() for line in clean(text).split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def _fold_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for cp in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        base = unicodedata.normalize("NFD", chr(cp))[0]
        if base != chr(cp) and base.isascii():
            table[cp] = base.lower()
    # đ has no Unicode decomposition: it must be mapped explicitly (to d, never dj).
    table.update({ord("đ"): "d", ord("Đ"): "d", ord("ð"): "d", ord("Ð"): "d"})
    for cp in range(0x300, 0x370):  # combining marks left in NFD input
        table[cp] = None
    return table


_FOLD_TABLE = _fold_table()


def fold(text: str) -> str:
    """Lower-case and strip diacritics: ``Đảng ủy`` → ``dang uy`` (``đ`` → ``d``)."""
    text = text.lower()
    return text if text.isascii() else text.translate(_FOLD_TABLE).lower()


def fold_d(text: str) -> str:
    """Only ``đ``/``Đ`` → ``d``/``D``: what SQLite's unicode61 tokenizer (with
    remove_diacritics 2) cannot fold itself; it folds every other Vietnamese mark."""
    return text.replace("đ", "d").replace("Đ", "D")


_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


_HOST = re.compile(r"[^\s<>\"'`\\{}|^/?#@:\[\]%]+")


# The common case, decided without urlsplit: lower-case http(s), a host of letters,
# digits, dots and dashes, no port, and printable ASCII after it.
_PLAIN_URL = re.compile(r"https?://[a-z0-9.-]+(?:[/?#][!-~]*)?")


def is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a plausible host (a name or an IP literal) and a
    valid port: what may become an article's link."""
    return bool(_PLAIN_URL.fullmatch(url)) or _parsed_http_url(url)


def _parsed_http_url(url: str) -> bool:
    """``is_http_url`` by urlsplit (every URL the fast pattern takes passes here too)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port that is not a number in range
    except ValueError:
        return False
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        return False
    return host.startswith("[") or host.count(":") > 1 or bool(_HOST.fullmatch(host))


@functools.lru_cache(maxsize=4096)
def slugify(text: str, *, max_length: int = 80) -> str:
    """``Thông tin - Tuyên truyền`` → ``thong-tin-tuyen-truyen`` (``Đ`` → ``d``)."""
    slug = _SLUG_STRIP.sub("-", fold(text)).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0] or slug[:max_length]
    return slug


def summarize(text: str, limit: int = 300) -> str:
    """The text cut at a word boundary to at most ``limit`` characters (with …)."""
    text = clean_line(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-–") + "…"


_SITE_DATE = re.compile(
    r"(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})\s*-\s*"
    r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*(?P<p>[AaPp][Mm])?"
)


def parse_site_datetime(text: str, tz: ZoneInfo = LOCAL_TZ) -> datetime:
    """Parse ``09/08/2019 - 4:29:33 PM`` (local time) into an aware UTC datetime.

    12 AM is 00h and 12 PM is 12h; without AM/PM the hour is read as 24-hour.
    Raises ValueError on anything else.
    """
    m = _SITE_DATE.search(text)
    if not m:
        raise ValueError(f"not a dd/mm/yyyy - h:mm:ss AM|PM date: {text!r}")
    hour = int(m["H"])
    if m["p"]:
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} is not on a 12-hour clock: {text!r}")
        hour = hour % 12 + (12 if m["p"].upper() == "PM" else 0)
    local = datetime(
        int(m["y"]), int(m["m"]), int(m["d"]), hour, int(m["M"]), int(m["S"] or 0), tzinfo=tz
    )
    return local.astimezone(UTC)


def parse_iso_datetime(text: str, tz: ZoneInfo = LOCAL_TZ) -> datetime:
    """ISO 8601 into aware UTC; a naive value is taken as local (Asia/Ho_Chi_Minh)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def to_local(value: datetime, tz: ZoneInfo = LOCAL_TZ) -> datetime:
    return value.astimezone(tz)


def iso_local(value: datetime, tz: ZoneInfo = LOCAL_TZ) -> str:
    """``2019-08-09T16:29:33+07:00``: the form every output uses."""
    return value.astimezone(tz).isoformat(timespec="seconds")


def utc_iso(value: datetime) -> str:
    """The store's form: ``2019-08-09T09:29:33+00:00`` (sorts as text)."""
    return value.astimezone(UTC).isoformat(timespec="seconds")


WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


def format_vi_date(value: datetime, tz: ZoneInfo = LOCAL_TZ, *, weekday: bool = True) -> str:
    """``Thứ Sáu, ngày 9 tháng 8 năm 2019``."""
    local = value.astimezone(tz)
    text = f"ngày {local.day} tháng {local.month} năm {local.year}"
    return f"{WEEKDAYS[local.weekday()]}, {text}" if weekday else text.capitalize()


@functools.lru_cache(maxsize=4096)  # the index page asks for the same few hundred
def format_vi_datetime(value: datetime, tz: ZoneInfo = LOCAL_TZ) -> str:
    """``9/8/2019 16:29``: short local form for lists."""
    local = value.astimezone(tz)
    return f"{local.day}/{local.month}/{local.year} {local:%H:%M}"


def iso_week_key(value: datetime, tz: ZoneInfo = LOCAL_TZ) -> str:
    """The ISO week (``2026-W48``) of an instant, in local time."""
    year, week, _ = value.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def last_complete_week(when: datetime, tz: ZoneInfo = LOCAL_TZ) -> str:
    """The latest ISO week that has ended by ``when``: a digest fired at 07:00 on
    Monday 2026-11-30 (or late, on Tuesday) covers 2026-W48."""
    return iso_week_key(when.astimezone(tz) - timedelta(days=7), tz)


_WEEK_KEY = re.compile(r"^(\d{4})-W(\d{2})$")


def week_window(key: str, tz: ZoneInfo = LOCAL_TZ) -> tuple[datetime, datetime]:
    """Monday 00:00 to next Monday 00:00 local, as UTC datetimes."""
    m = _WEEK_KEY.match(key)
    if not m:
        raise ValueError(f"not an ISO week key like 2026-W48: {key!r}")
    start = datetime.fromisocalendar(int(m[1]), int(m[2]), 1).replace(tzinfo=tz)
    end = (start.replace(tzinfo=None) + timedelta(days=7)).replace(tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)

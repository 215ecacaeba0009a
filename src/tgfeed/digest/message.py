"""Building the digest email (pure): once per run, then per recipient only the
``To`` line, the ``Message-ID`` and the unsubscribe token change.

The message is ``multipart/alternative`` (text, then HTML), UTF-8 in
quoted-printable, every header 7-bit (RFC 2047 encoded words for the subject
and display names). Tokens have a fixed length and the quoted-printable
encoder never splits the placeholder, so substituting a token moves no line
break. Whatever a title or a name contains, CR/LF never reaches a header.

The ``Message-ID`` is stable per (week, subscriber): a message sent again after
a crash carries the same id, and receiving systems can recognise it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from ..errors import MailError, SubscriberError
from ..text import LOCAL_TZ

CRLF = b"\r\n"
QP_LINE = 76
_ENCODED_WORD_BYTES = 39  # 52 base64 chars + 12 of framing: "Subject: " + word ≤ 78

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
_ADDRESS = re.compile(rf"^({_LOCAL})@({_DOMAIN})$")
_ATEXT_PHRASE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ .-]+$")

# Quoted-printable of one byte: printable ASCII stays, "=" and the rest are escaped.
_QP = [chr(b) if 33 <= b <= 126 and b != 61 else f"={b:02X}" for b in range(256)]
_QP[32] = " "


def check_address(value: str) -> str:
    """A plain ASCII ``local@domain.tld`` (domain lower-cased); SubscriberError otherwise."""
    text = value.strip() if isinstance(value, str) else ""
    m = _ADDRESS.match(text)
    if not m or len(text) > 254 or len(m[1]) > 64:
        raise SubscriberError(
            f"not an email address: {value!r}",
            hint="write it as name@example.vn (ASCII letters, digits, . _ + -)",
        )
    return f"{m[1]}@{m[2].lower()}"


def one_line(value: str) -> str:
    """Header-safe text: NFC, controls and line breaks become spaces, runs collapsed."""
    if value.isprintable() and unicodedata.is_normalized("NFC", value):
        # No controls, no line breaks, no odd spaces (the common case, fast).
        return " ".join(value.split()) if "  " in value or value != value.strip() else value
    value = " ".join(unicodedata.normalize("NFC", value).split())  # every line break → space
    value = "".join(c for c in value if unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    return " ".join(value.split())


def encoded_words(text: str) -> str:
    """RFC 2047 ``=?utf-8?b?…?=`` words, each under 75 chars and whole characters,
    joined by folding whitespace (which decoders drop between encoded words)."""
    raw = text.encode("utf-8")
    if len(raw) <= _ENCODED_WORD_BYTES:
        return f"=?utf-8?b?{base64.b64encode(raw).decode('ascii')}?="
    words: list[bytes] = []
    chunk = b""
    for ch in text:
        b = ch.encode("utf-8")
        if chunk and len(chunk) + len(b) > _ENCODED_WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += b
    if chunk:
        words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


def header_text(value: str) -> str:
    """An unstructured header value (subject): ASCII as is, otherwise encoded words."""
    value = one_line(value)
    if value.isascii() and "=?" not in value and len(value) < 900:
        return value
    return encoded_words(value)


def format_address(name: str | None, email: str) -> str:
    """``Tên Người Nhận <a@b.vn>`` with the display name encoded when needed."""
    email = check_address(email)
    name = one_line(name or "")
    if not name:
        return email
    if name.isascii() and _ATEXT_PHRASE.match(name) and "=?" not in name:
        return f"{name} <{email}>"
    if name.isascii() and "=?" not in name:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{email}>'
    words = encoded_words(name)
    last = words.rsplit("\r\n ", 1)[-1]
    # Fold before the address when "Reply-To: " + last word + address would pass 78.
    sep = " " if 10 + len(last) + len(email) + 3 <= 78 else "\r\n "
    return f"{words}{sep}<{email}>"


def format_date(value: datetime, tz: ZoneInfo = LOCAL_TZ) -> str:
    """``Mon, 30 Nov 2026 07:00:00 +0700``."""
    return format_datetime(value.astimezone(tz).replace(microsecond=0))


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower()


def message_id(week: str, subscriber_id: int, *, domain: str, list_id: str) -> str:
    """``<2026-W48.42.1f0c9a7e2b44@tuyengiaohungyen.vn>``: the same for every resend."""
    digest = hashlib.sha256(f"{list_id}\0{week}\0{subscriber_id}".encode()).hexdigest()[:12]
    return f"<{week}.{subscriber_id}.{digest}@{domain}>"


def quoted_printable(text: str, keep: bytes = b"") -> bytes:
    """Quoted-printable of UTF-8 ``text`` with CRLF lines of at most 76 characters;
    ``keep`` (the token placeholder) is never split by a soft line break."""
    keep_s = keep.decode("ascii")
    out: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        atoms: list[str] = []
        parts = line.encode("utf-8").split(keep) if keep else [line.encode("utf-8")]
        for i, part in enumerate(parts):
            if i:
                atoms.append(keep_s)
            atoms.extend(_QP[b] for b in part)
        if atoms and atoms[-1] in (" ", "=09"):
            atoms[-1] = "=20" if atoms[-1] == " " else "=09"
        current = ""
        for atom in atoms:
            if len(current) + len(atom) > QP_LINE - 1:
                out.append(current + "=")
                current = ""
            current += atom
        out.append(current)
    return "\r\n".join(out).encode("ascii")


def _h(name: str, value: str) -> bytes:
    line = f"{name}: {value}".encode("ascii")
    if b"\n" in line.replace(b"\r\n ", b"") or b"\r" in line.replace(b"\r\n ", b""):
        raise MailError(f"header {name} would contain a line break")  # cannot happen
    return line + CRLF


@dataclass(frozen=True, slots=True)
class Sender:
    """Who the digest comes from (from ``[mail]``)."""

    address: str
    name: str
    list_id: str
    list_name: str
    reply_to: str | None = None
    unsubscribe_mailto: str | None = None
    archive_url: str | None = None


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """A digest message with placeholders, built once per run."""

    week: str
    domain: str
    list_id: str
    placeholder: bytes
    head: bytes  # the headers before ``To``
    parts: tuple[bytes, ...]  # the rest, split at each placeholder

    def personalize(
        self,
        *,
        email: str,
        name: str | None,
        subscriber_id: int,
        token: str,
        msg_id: str | None = None,
    ) -> bytes:
        """One recipient's message: only To, Message-ID and the token differ."""
        tok = token.encode("ascii")
        if len(tok) != len(self.placeholder):
            raise MailError(f"token of length {len(tok)}; expected {len(self.placeholder)}")
        mid = msg_id or message_id(
            self.week, subscriber_id, domain=self.domain, list_id=self.list_id
        )
        lead = self.head + _h("To", format_address(name, email)) + _h("Message-ID", mid)
        return tok.join((lead + self.parts[0], *self.parts[1:]))


def build_digest(
    *,
    subject: str,
    html: str,
    text: str,
    sender: Sender,
    date: datetime,
    week: str,
    unsubscribe_url: str,
    placeholder: str,
    tz: ZoneInfo = LOCAL_TZ,
) -> MessageTemplate:
    """The digest message for every recipient, with ``placeholder`` where each
    recipient's token goes (in ``unsubscribe_url``, the HTML and the text)."""
    ph = placeholder.encode("ascii")
    text_qp = quoted_printable(text, ph)
    html_qp = quoted_printable(html, ph)
    boundary = "=_tgfeed_" + hashlib.sha256(text_qp + html_qp).hexdigest()[:24]
    head = _h("From", format_address(sender.name, sender.address))
    unsubscribe = [f"<{one_line(unsubscribe_url)}>"]
    if sender.unsubscribe_mailto:
        mailto = check_address(sender.unsubscribe_mailto)
        unsubscribe.append(f"<mailto:{mailto}?subject=unsubscribe%20{placeholder}>")
    rest = [
        _h("Subject", header_text(subject)),
        _h("Date", format_date(date, tz)),
    ]
    if sender.reply_to:
        rest.append(_h("Reply-To", check_address(sender.reply_to)))
    rest += [
        _h("List-Id", f"{header_text(sender.list_name)} <{one_line(sender.list_id)}>"),
        _h("List-Unsubscribe", ",\r\n ".join(unsubscribe)),
        _h("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]
    if sender.archive_url:
        rest.append(_h("List-Archive", f"<{one_line(sender.archive_url)}>"))
    rest += [
        _h("Auto-Submitted", "auto-generated"),
        _h("Precedence", "bulk"),
        _h("X-Auto-Response-Suppress", "OOF, AutoReply"),
        _h("MIME-Version", "1.0"),
        _h("Content-Language", "vi"),
        _h("Content-Type", f'multipart/alternative;\r\n boundary="{boundary}"'),
        *_alternatives(boundary, text_qp, html_qp),
    ]
    return MessageTemplate(
        week=week,
        domain=domain_of(sender.address),
        list_id=sender.list_id,
        placeholder=ph,
        head=head,
        parts=tuple(b"".join(rest).split(ph)),
    )


def _alternatives(boundary: str, text_qp: bytes, html_qp: bytes) -> list[bytes]:
    """The body of a multipart/alternative message: the plain text, then the HTML."""
    out = [CRLF, b"This is a multi-part message in MIME format." + CRLF]
    for subtype, body in (("plain", text_qp), ("html", html_qp)):
        out += [
            f"--{boundary}".encode("ascii") + CRLF,
            _h("Content-Type", f'text/{subtype}; charset="utf-8"'),
            _h("Content-Transfer-Encoding", "quoted-printable"),
            CRLF,
            body + CRLF,
        ]
    out.append(f"--{boundary}--".encode("ascii") + CRLF)
    return out


def simple_message(
    *,
    sender: Sender,
    to: Sequence[str],
    subject: str,
    text: str,
    date: datetime,
    message_id: str,
    tz: ZoneInfo = LOCAL_TZ,
) -> bytes:
    """A plain-text message (confirmations, admin alerts)."""
    headers = [
        _h("From", format_address(sender.name, sender.address)),
        _h("To", ",\r\n ".join(format_address(None, a) for a in to)),
        _h("Subject", header_text(subject)),
        _h("Date", format_date(date, tz)),
        _h("Message-ID", one_line(message_id)),
    ]
    if sender.reply_to:
        headers.append(_h("Reply-To", check_address(sender.reply_to)))
    headers += [
        _h("Auto-Submitted", "auto-generated"),
        _h("X-Auto-Response-Suppress", "All"),
        _h("MIME-Version", "1.0"),
        _h("Content-Language", "vi"),
        _h("Content-Type", 'text/plain; charset="utf-8"'),
        _h("Content-Transfer-Encoding", "quoted-printable"),
        CRLF,
        quoted_printable(text if text.endswith("\n") else text + "\n"),
    ]
    return b"".join(headers)

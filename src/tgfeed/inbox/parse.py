"""What an incoming message is (pure): a delivery status notification (RFC 3464),
an unsubscribe request sent to the list's ``mailto:`` address, or anything else.

Nothing here trusts the message: every header may be missing, repeated, badly
encoded or absurdly long. A message the parser cannot read at all raises
InboxError; everything else gets a classification.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass
from email.message import Message
from typing import Literal

from ..errors import InboxError
from ..text import summarize

Kind = Literal["bounce", "unsubscribe", "other"]

# An unsubscribe token (tgfeed.tokens): 40 URL-safe characters, standing alone.
_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])([A-Za-z0-9_-]{40})(?![A-Za-z0-9_-])")
_UNSUBSCRIBE_WORD = re.compile(r"^\s*(?:(?:re|fw|fwd|tr|sv|aw)\s*:\s*)*unsubscribe\b", re.I)
_STATUS = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")
# Where the address a message was delivered to may be recorded.
_RECIPIENT_HEADERS = (
    "To",
    "Cc",
    "Delivered-To",
    "X-Original-To",
    "Envelope-To",
    "X-Envelope-To",
    "X-Original-Recipient",
)
MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Recipient:
    """One per-recipient block of a DSN."""

    address: str
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str  # "5.1.1"; "" when the block has none
    diagnostic: str

    @property
    def hard(self) -> bool:
        """The message was not delivered and will not be: a hard bounce."""
        return self.action == "failed"

    @property
    def soft(self) -> bool:
        """Delivery is delayed (still being retried): a soft bounce."""
        return self.action == "delayed" or (self.action == "" and self.status.startswith("4."))

    @property
    def no_such_address(self) -> bool:
        """5.1.x: the mailbox or domain does not exist (RFC 3463)."""
        return self.hard and self.status.startswith("5.1.")


@dataclass(frozen=True, slots=True)
class Incoming:
    key: str  # the Message-ID, or a digest of the bytes when it has none
    kind: Kind
    sender: str | None  # From's address, lower-cased domain
    return_path: str | None
    subject: str
    # Candidate unsubscribe tokens: of a request, in its subject then its address's
    # +detail; of a DSN, in the List-Unsubscribe of the message it returns.
    tokens: tuple[str, ...]
    recipients: tuple[Recipient, ...]  # of a DSN
    automatic: bool  # Auto-Submitted, or a bulk/list message: never an unsubscribe request
    note: str = ""  # why it is "other"


def _text(value: object) -> str:
    """A header as one line of text, encoded words decoded, never raising."""
    if value is None:
        return ""
    try:
        decoded = str(email.header.make_header(email.header.decode_header(str(value))))
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        decoded = str(value)
    return " ".join(decoded.split())[:998]


def _addresses(msg: Message, *names: str) -> list[str]:
    values = [str(v) for name in names for v in (msg.get_all(name) or [])]
    out = []
    for _, addr in email.utils.getaddresses(values):
        addr = addr.strip().strip("<>").strip()
        if "@" in addr and len(addr) <= 254 and not any(c.isspace() for c in addr):
            local, _, domain = addr.rpartition("@")
            out.append(f"{local}@{domain.lower()}")
    return out


def _key(msg: Message, raw: bytes) -> str:
    mid = _text(msg.get("Message-ID")).strip()
    if mid and len(mid) <= 250:
        return mid
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _field(block: Message, name: str) -> str:
    return _text(block.get(name)).strip()


def _typed_address(value: str) -> str:
    """``rfc822; a@b.vn`` → ``a@b.vn`` (RFC 3464 address-type; utf-8 too, RFC 6533)."""
    kind, sep, addr = value.partition(";")
    if not sep:
        addr = kind
    elif kind.strip().lower() not in ("rfc822", "utf-8"):
        return ""
    addr = addr.strip().strip("<>").strip()
    if "@" not in addr or any(c.isspace() for c in addr) or len(addr) > 254:
        return ""
    local, _, domain = addr.rpartition("@")
    return f"{local}@{domain.lower()}"


def _diagnostic(value: str) -> str:
    """``smtp; 550 5.1.1 …`` → ``550 5.1.1 …`` (the diagnostic-type dropped)."""
    kind, sep, text = value.partition(";")
    return text.strip() if sep and re.fullmatch(r"[A-Za-z0-9-]{1,20}", kind.strip()) else value


def _dsn_recipients(msg: Message) -> tuple[Recipient, ...] | None:
    """The recipients a multipart/report; report-type=delivery-status names, or
    None when ``msg`` is not such a report."""
    if msg.get_content_type() != "multipart/report":
        return None
    if str(msg.get_param("report-type") or "").lower() != "delivery-status":
        return None
    out: list[Recipient] = []
    for part in msg.walk():
        if part.get_content_type() not in (
            "message/delivery-status",
            "message/global-delivery-status",
        ):
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks[1:]:  # the first block is about the message, not a recipient
            if not isinstance(block, Message):
                continue
            address = _typed_address(_field(block, "Final-Recipient")) or _typed_address(
                _field(block, "Original-Recipient")
            )
            if not address:
                continue
            status = _STATUS.match(_field(block, "Status"))
            out.append(
                Recipient(
                    address=address,
                    action=_field(block, "Action").lower(),
                    status=".".join(status.groups()) if status else "",
                    diagnostic=summarize(_diagnostic(_field(block, "Diagnostic-Code")), 300),
                )
            )
    return tuple(out)


def _returned_tokens(report: Message) -> list[str]:
    """Unsubscribe tokens in the List-Unsubscribe of the message a DSN returns (its
    headers, or all of it): who it was for, even when an alias rewrote the address."""
    found: list[str] = []
    for part in report.walk():
        kind = part.get_content_type()
        returned: list[Message] = []
        if kind in ("text/rfc822-headers", "text/global-headers"):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                returned.append(email.message_from_bytes(payload, policy=email.policy.compat32))
        elif kind in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            returned += (
                [m for m in inner if isinstance(m, Message)] if isinstance(inner, list) else []
            )
        for m in returned:
            header = " ".join(str(v) for v in m.get_all("List-Unsubscribe") or [])
            found += [t[1] for t in _TOKEN.finditer(header.replace("%20", " "))]
    return found


def _is_automatic(msg: Message) -> bool:
    auto = _text(msg.get("Auto-Submitted")).lower()
    precedence = _text(msg.get("Precedence")).lower()
    return (auto not in ("", "no")) or precedence in ("bulk", "junk", "list")


def _matches(address: str, target: str) -> bool:
    """``address`` is ``target``, or ``target`` with a ``+detail`` in its local part."""
    local, _, domain = address.rpartition("@")
    t_local, _, t_domain = target.rpartition("@")
    if domain != t_domain.lower():
        return False
    base = local.split("+", 1)[0]
    return base.lower() == t_local.lower()


def parse_message(raw: bytes, *, unsubscribe_address: str | None) -> Incoming:
    """Classify one message (its bytes as stored in the mailbox)."""
    if not raw.strip():
        raise InboxError("an empty message")
    if len(raw) > MAX_BYTES:
        raise InboxError(f"a message of {len(raw)} bytes (more than {MAX_BYTES})")
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except (ValueError, TypeError, IndexError, LookupError) as exc:  # pragma: no cover
        raise InboxError(f"unreadable message: {exc}") from exc
    if not msg.keys():
        raise InboxError("not a mail message (no header)")
    subject = _text(msg.get("Subject"))
    senders = _addresses(msg, "From")
    return_paths = _addresses(msg, "Return-Path")
    automatic = _is_automatic(msg)

    def incoming(
        kind: Kind, tokens: list[str], recipients: tuple[Recipient, ...], note: str
    ) -> Incoming:
        return Incoming(
            key=_key(msg, raw),
            kind=kind,
            sender=senders[0] if senders else None,
            return_path=return_paths[0] if return_paths else None,
            subject=subject,
            tokens=tuple(dict.fromkeys(tokens)),
            recipients=recipients,
            automatic=automatic,
            note=note,
        )

    recipients = _dsn_recipients(msg)
    if recipients is not None:
        return incoming("bounce", _returned_tokens(msg), recipients, "")
    delivered_to = _addresses(msg, *_RECIPIENT_HEADERS)
    tokens = [m[1] for m in _TOKEN.finditer(subject)]
    target = unsubscribe_address or ""
    to_list = bool(target) and any(_matches(a, target) for a in delivered_to)
    if to_list:
        tokens += [m[1] for a in delivered_to for m in _TOKEN.finditer(a.rpartition("@")[0])]
    asked = to_list or (bool(tokens) and bool(_UNSUBSCRIBE_WORD.match(subject)))
    if asked and automatic:
        note = "an automatic message (Auto-Submitted / Precedence), not a request"
        return incoming("other", [], (), note)
    if not asked:
        return incoming("other", [], (), "neither a delivery report nor an unsubscribe request")
    return incoming("unsubscribe", tokens, (), "")

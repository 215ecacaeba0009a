"""The mail edge: one interface over two backends.

``make_mailer(config)`` returns a :class:`Mailer` for ``[mail] backend``:
``smtp`` (aiosmtplib, pooled connections, rate limit — see ``smtp``) or
``outbox`` (a local Maildir — see ``outbox``). A mailer sends prebuilt bytes;
building messages is the pure ``digest.message`` module's job.

``send(envelope_from, recipients, message)`` returns the server's reply once
the message is accepted, and raises ``TemporaryMailError`` (try again later),
``PermanentMailError`` (refused for good) or ``MailError`` (the setup is wrong).
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..config import Config
from ..digest.message import Sender, domain_of, simple_message
from ..digest.signing import DkimKey
from ..errors import ConfigError
from ..private import check_private
from .outbox import OutboxMailer
from .smtp import SmtpMailer

if TYPE_CHECKING:
    from ..app import App

__all__ = [
    "DkimKey",
    "Mailer",
    "envelope_from",
    "load_dkim_key",
    "make_mailer",
    "send_simple",
    "sender_of",
]

log = logging.getLogger(__name__)


class Mailer(Protocol):
    """What delivery needs from a backend."""

    concurrency: int  # how many sends may run at once
    where: str  # for messages: "smtp.example.vn:587" or the outbox path

    async def send(self, envelope_from: str, recipients: list[str], message: bytes) -> str: ...

    async def aclose(self) -> None: ...


def make_mailer(config: Config) -> Mailer:
    """A new mailer for the configured backend (close it with ``aclose``)."""
    mail = config.mail
    if mail.backend == "smtp":
        return SmtpMailer(
            mail.smtp,
            password=mail.smtp.password() if mail.smtp.username else None,
            local_hostname=domain_of(mail.from_address),
        )
    return OutboxMailer(config.resolve(mail.outbox_dir))


def envelope_from(config: Config) -> str:
    return config.mail.envelope_from or config.mail.from_address


def sender_of(config: Config) -> Sender:
    mail = config.mail
    return Sender(
        address=mail.from_address,
        name=mail.from_name,
        list_id=mail.list_id,
        list_name=f"Bản tin tuần {config.site.title}",
        reply_to=mail.reply_to,
        unsubscribe_mailto=mail.unsubscribe_mailto,
        archive_url=f"{config.site.public_url.rstrip('/')}/digests/",
    )


def load_dkim_key(config: Config) -> DkimKey | None:
    """The DKIM signing key when ``[mail.dkim]`` is configured."""
    cfg = config.mail.dkim
    if cfg is None:
        return None
    path: Path = config.resolve(cfg.key_file)
    check_private(path, "mail.dkim.key_file")
    try:
        return DkimKey(cfg.domain, cfg.selector, path.read_bytes())
    except OSError as exc:
        raise ConfigError(
            f"mail.dkim.key_file: cannot read {path}: {exc.strerror}",
            hint="give the PEM private key's path (readable by tgfeed only)",
        ) from exc


async def send_simple(app: App, to: list[str], subject: str, text: str) -> None:
    """Send a short plain-text message now (confirmations, admin alerts).

    Raises the ``MailError`` family when it cannot be delivered or queued.
    """
    config = app.config
    sender = sender_of(config)
    message = simple_message(
        sender=sender,
        to=to,
        subject=subject,
        text=text,
        date=app.now(),
        message_id=f"<{uuid.uuid4().hex}@{domain_of(sender.address)}>",
        tz=app.tz,
    )
    if app.dkim is not None:
        message = app.dkim.sign(message)
    mailer = app.mailer()
    try:
        reply = await mailer.send(envelope_from(config), list(to), message)
    finally:
        await mailer.aclose()
    log.info("sent %r to %s: %s", subject, ", ".join(to), reply)

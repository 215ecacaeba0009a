"""The SMTP backend: aiosmtplib over a pool of reused connections, under a rate
limit. The only module that imports aiosmtplib.

Errors are sorted into the three kinds the delivery loop acts on:
``PermanentMailError`` (5xx about this message or address),
``TemporaryMailError`` (4xx; with ``connection=True`` when the relay itself is
unreachable, dropped us or timed out) and plain ``MailError`` (our own setup is
wrong: authentication, a refused envelope sender, TLS not offered).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiosmtplib

from ..config import SmtpConfig
from ..errors import MailError, PermanentMailError, TemporaryMailError

log = logging.getLogger(__name__)


class RateLimiter:
    """At most ``per_minute`` sends a minute, evenly spaced (shared by all connections)."""

    def __init__(self, per_minute: int) -> None:
        self.interval = 60.0 / per_minute
        self._next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        slot = max(self._next, now)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


def _reply(code: int, message: str) -> str:
    return f"{code} {message}".strip()


class SmtpMailer:
    """Sends through ``[mail.smtp]``; ``connections`` sends at a time, each on a
    connection kept open between messages."""

    def __init__(self, cfg: SmtpConfig, *, password: str | None, local_hostname: str) -> None:
        self.cfg = cfg
        self.concurrency = cfg.connections
        self._password = password
        self._local_hostname = local_hostname
        self._idle: list[aiosmtplib.SMTP] = []
        self._all: set[aiosmtplib.SMTP] = set()
        self._slots = asyncio.Semaphore(cfg.connections)
        self._limiter = RateLimiter(cfg.max_per_minute)
        self.where = f"{cfg.host}:{cfg.port}"

    async def _connect(self) -> aiosmtplib.SMTP:
        cfg = self.cfg
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            timeout=cfg.timeout,
            use_tls=cfg.tls,
            start_tls=cfg.starttls,
            local_hostname=self._local_hostname,
        )
        try:
            await client.connect()
            if cfg.username:
                await client.login(cfg.username, self._password or "")
        except aiosmtplib.SMTPAuthenticationError as exc:
            client.close()
            raise MailError(
                f"{self.where}: authentication failed ({_reply(exc.code, exc.message)})",
                hint="check mail.smtp.username and the password in password_env/password_file",
            ) from exc
        except aiosmtplib.SMTPNotSupported as exc:
            client.close()
            raise MailError(
                f"{self.where}: {exc}",
                hint="the relay does not offer it: change mail.smtp.starttls / tls / username",
            ) from exc
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            raise TemporaryMailError(
                f"{self.where}: cannot connect: {exc}", connection=True
            ) from exc
        self._all.add(client)
        return client

    def _drop(self, client: aiosmtplib.SMTP | None) -> None:
        if client is not None:
            self._all.discard(client)
            client.close()

    async def _checkout(self) -> aiosmtplib.SMTP:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
            self._drop(client)
        return await self._connect()

    async def send(self, envelope_from: str, recipients: list[str], message: bytes) -> str:
        """Send one message; the server's reply to DATA once it accepted it."""
        await self._limiter.wait()
        async with self._slots:
            client = await self._checkout()
            try:
                refused, reply = await self._transaction(client, envelope_from, recipients, message)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                first = exc.recipients[0]
                text = "; ".join(
                    f"{r.recipient}: {_reply(r.code, r.message)}" for r in exc.recipients
                )
                if first.code == 421:  # the relay is closing: its state, not the address's
                    self._drop(client)
                    raise TemporaryMailError(text, code=421, connection=True) from exc
                self._release(client)
                if first.code >= 500:
                    raise PermanentMailError(text, code=first.code) from exc
                raise TemporaryMailError(text, code=first.code) from exc
            except aiosmtplib.SMTPSenderRefused as exc:
                text = f"envelope sender {exc.sender} refused: {_reply(exc.code, exc.message)}"
                if exc.code == 421:  # the relay is closing: its state, not the address's
                    self._drop(client)
                    raise TemporaryMailError(text, code=421, connection=True) from exc
                self._release(client)
                if exc.code >= 500:
                    raise MailError(text, hint="check mail.envelope_from / from_address") from exc
                raise TemporaryMailError(text, code=exc.code) from exc
            except aiosmtplib.SMTPResponseException as exc:
                text = _reply(exc.code, exc.message)
                if exc.code == 421 or not client.is_connected:
                    self._drop(client)
                    raise TemporaryMailError(text, code=exc.code, connection=True) from exc
                self._release(client)
                if exc.code >= 500:
                    raise PermanentMailError(text, code=exc.code) from exc
                raise TemporaryMailError(text, code=exc.code) from exc
            except ValueError as exc:  # an address aiosmtplib refuses to send
                self._release(client)
                raise PermanentMailError(str(exc)) from exc
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                self._drop(client)
                raise TemporaryMailError(
                    f"{self.where}: {type(exc).__name__}: {exc}", connection=True
                ) from exc
            except BaseException:
                self._drop(client)
                raise
            self._release(client)
            if refused:
                log.warning("some recipients refused: %s", refused)
            return reply

    async def _transaction(
        self, client: aiosmtplib.SMTP, sender: str, recipients: list[str], message: bytes
    ) -> tuple[dict[str, str], str]:
        """MAIL, RCPT…, DATA — what ``sendmail`` does, minus the work our prebuilt
        messages do not need: the addresses were checked when they were stored and
        the message already has CRLF line ends, so its length is its SIZE. A failed
        reply resets the envelope, as ``sendmail`` does."""
        options = [f"SIZE={len(message)}"] if client.supports_extension("size") else []
        try:
            await client.mail(sender, options=options)
            refused: list[aiosmtplib.SMTPRecipientRefused] = []
            for rcpt in recipients:
                try:
                    await client.rcpt(rcpt)
                except aiosmtplib.SMTPRecipientRefused as exc:
                    refused.append(exc)
            if len(refused) == len(recipients):
                raise aiosmtplib.SMTPRecipientsRefused(refused)
            response = await client.data(message)
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
            with contextlib.suppress(ConnectionError, aiosmtplib.SMTPResponseException):
                await client.rset()
            raise
        return {r.recipient: _reply(r.code, r.message) for r in refused}, response.message

    def _release(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected:
            self._idle.append(client)
        else:
            self._drop(client)

    async def aclose(self) -> None:
        """QUIT every open connection (politely, briefly)."""
        clients, self._all, self._idle = list(self._all), set(), []
        for client in clients:
            if client.is_connected:
                try:
                    await asyncio.wait_for(client.quit(), timeout=5)
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()

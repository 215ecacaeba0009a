"""A real aiosmtpd server on 127.0.0.1 for mail tests, with a scriptable policy
(answer 451 or 550 to chosen recipients) and a record of everything accepted.

Use the ``smtp_server`` fixture (see ``running_server``), or
``SmtpServer`` directly to stop and restart it mid-run.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from .conftest import free_port

# (address, attempt number for that address) -> an SMTP reply to refuse with, or None.
Policy = Callable[[str, int], str | None]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    at: float

    def parsed(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def message_id(self) -> str:
        return str(self.parsed()["Message-ID"])


class Recorder:
    """The aiosmtpd handler: applies the policy at RCPT, records at DATA."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.rcpt_attempts: Counter[str] = Counter()
        self.refusals: list[tuple[str, str]] = []

    async def handle_RCPT(  # aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self.lock:
            self.rcpt_attempts[address] += 1
            attempt = self.rcpt_attempts[address]
        reply = self.policy(address, attempt) if self.policy else None
        if reply:
            with self.lock:
                self.refusals.append((address, reply))
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(content), time.time())
            )
            n = len(self.received)
        return f"250 2.0.0 Ok: queued as T{n:06d}"


class _Controller(Controller):  # type: ignore[misc]
    """Remembers its sessions, so that stopping closes them as a real server would
    (aiosmtpd's own stop leaves established connections hanging)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: list[Any] = []

    def factory(self) -> Any:
        proto = super().factory()
        self.sessions.append(proto)
        return proto

    def stop(self, no_assert: bool = False) -> None:
        done = threading.Event()

        def close_all() -> None:
            if self.server is not None:
                self.server.close()  # stop listening: new connections are refused
            for proto in self.sessions:
                transport = getattr(proto, "transport", None)
                if transport is not None:
                    transport.close()  # FIN after what was already written (a 250 arrives)
            done.set()

        if self.loop.is_running():
            self.loop.call_soon_threadsafe(close_all)
            done.wait(5)
        super().stop(no_assert=no_assert)


class SmtpServer:
    """aiosmtpd on 127.0.0.1:<port>; ``stop()``/``start()`` keep the port and the record."""

    def __init__(self, policy: Policy | None = None, port: int | None = None) -> None:
        self.handler = Recorder(policy)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.controller: _Controller | None = None

    def start(self) -> SmtpServer:
        deadline = time.monotonic() + 10
        while True:
            controller = _Controller(
                self.handler, hostname=self.host, port=self.port, ready_timeout=5
            )
            try:
                controller.start()
            except (OSError, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
                continue
            self.controller = controller
            return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def by_recipient(self) -> dict[str, list[Received]]:
        out: dict[str, list[Received]] = defaultdict(list)
        for r in self.received:
            for rcpt in r.rcpt_tos:
                out[rcpt].append(r)
        return dict(out)

    def message_ids(self) -> dict[str, list[str]]:
        """Each recipient's Message-IDs, in arrival order."""
        return {rcpt: [r.message_id for r in rs] for rcpt, rs in self.by_recipient().items()}

    def toml(self, mail: str = "", **smtp: object) -> str:
        """The [mail] config that sends here: ``mail`` adds raw [mail] lines, keyword
        arguments set [mail.smtp] keys."""
        settings = {
            "host": self.host,
            "port": self.port,
            "connections": 4,
            "max_per_minute": 600_000,
            "retry_delay": 0.02,
            "max_attempts": 5,
            "timeout": 10,
            **smtp,
        }
        body = "\n".join(
            f"{k} = {v!r}"
            if isinstance(v, str)
            else f"{k} = {str(v).lower()}"
            if isinstance(v, bool)
            else f"{k} = {v}"
            for k, v in settings.items()
        )
        # conftest's base config ends inside [mail]: these lines continue it.
        return f'backend = "smtp"\n{mail}\n[mail.smtp]\n{body}\n'


def running_server() -> Iterator[SmtpServer]:
    """The body of the ``smtp_server`` fixture; a test module enables it with
    ``_smtp = pytest.fixture(name="smtp_server")(running_server)``."""
    server = SmtpServer().start()
    yield server
    server.stop()

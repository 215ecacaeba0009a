"""The one duplicate SMTP allows, forced once and on purpose: a real aiosmtpd relay
on 127.0.0.1 takes a whole message and drops the connection before its ``250``.
tgfeed cannot know the message arrived, so it sends it again — and the second
copy must be the same bytes with the same Message-ID (docs/guarantees.md §1)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from tgfeed.app import App
from tgfeed.jobs.digest import send_digest

from .smtp_server import Recorder, SmtpServer

WEEK = "2026-W48"
N = 8
EVERYONE = {f"user{i:04d}@example.vn" for i in range(N)}
VICTIM = "user0003@example.vn"


class LoseTheFirstReply(Recorder):
    """Records every message; for ``victim``'s first one it closes the connection
    instead of answering ``250`` (the relay has the message, the client never hears)."""

    def __init__(self, victim: str) -> None:
        super().__init__()
        self.victim = victim
        self.dropped = 0
        self._once = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if self.victim in envelope.rcpt_tos and self._once.acquire(blocking=False):
            self.dropped += 1
            server.transport.abort()  # nothing more is written: the 250 below is lost
        return reply


def test_a_reply_lost_after_the_whole_message_resends_the_same_bytes(
    app_factory: Callable[..., App],
) -> None:
    server = SmtpServer()
    handler = server.handler = LoseTheFirstReply(VICTIM)
    server.start()
    try:
        app = app_factory(server.toml(connections=2, retry_delay=0.02), samples=True)
        ms = app.store.mail
        ms.bulk_add(
            [(addr, f"Người nhận {addr[4:8]}", None) for addr in sorted(EVERYONE)],
            now=app.now(),
            status="active",
            origin="test",
        )
        result = asyncio.run(send_digest(app, week=WEEK))
    finally:
        server.stop()

    assert handler.dropped == 1, "the fault never happened"
    assert result.status == "sent" and result.error is None, result
    assert (result.sent, result.failed, result.pending) == (N, 0, 0)
    copies = server.by_recipient()
    assert set(copies) == EVERYONE
    assert {rcpt: len(rs) for rcpt, rs in copies.items() if len(rs) != 1} == {VICTIM: 2}
    first, again = copies[VICTIM]
    assert again.data == first.data  # byte for byte: Message-ID, Date, token, body
    assert again.message_id == first.message_id
    assert first.message_id.startswith("<") and first.message_id.endswith(">")
    assert first.parsed()["To"].addresses[0].addr_spec == VICTIM
    others = {rs[0].message_id for rcpt, rs in copies.items() if rcpt != VICTIM}
    assert first.message_id not in others and len(others) == N - 1
    record = ms.digest(WEEK)
    assert record is not None
    rows = {row.email: row for row in ms.deliveries(record.id, limit=100)}
    assert set(rows) == EVERYONE and {row.status for row in rows.values()} == {"sent"}

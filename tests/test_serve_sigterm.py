"""SIGTERM during a scheduled digest send: no new message starts, the ones on the
wire finish, the ledger stays consistent, and the next start completes the run
without a duplicate (issue: scheduler, shutdown)."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tgfeed.app import build_app
from tgfeed.loader import load_file

from .conftest import SAMPLES, write_config
from .smtp_server import Recorder, SmtpServer
from .test_serve import Serve

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SUBSCRIBERS = 150


class SlowRecorder(Recorder):
    """Takes 50 ms per message, so a run lasts long enough to be interrupted."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


def _setup(tmp: Path, smtp: SmtpServer) -> datetime:
    """A store with the samples and 60 active subscribers, and a daily digest job whose
    last fire time (5 minutes ago) was missed while no service ran."""
    now = datetime.now(timezone.utc)
    fire = (now - timedelta(minutes=5)).astimezone(TZ).replace(second=0, microsecond=0)
    write_config(
        tmp,
        smtp.toml(connections=2)
        + f"""
[web]
admin_token_env = "TGFEED_TEST_ADMIN"
[digest]
categories = []
[schedule.jobs.weekly_digest]
kind = "send_digest"
cron = "{fire.minute} {fire.hour} * * *"
misfire_grace = "6h"
""",
    )
    config = load_file(tmp / "config.toml")
    from tgfeed.jobs.ingest import import_paths

    with build_app(config) as app:
        assert import_paths(app, [SAMPLES]).count("failed") == 0
        ms = app.store.mail
        for i in range(SUBSCRIBERS):
            ms.add_subscriber(
                f"can.bo{i:03d}@hungyen.gov.vn", now=now, status="active", name=f"Cán bộ {i}"
            )
        app.store.jobs.ensure_state("weekly_digest", now - timedelta(days=1))
    return fire.astimezone(timezone.utc)


def _ledger(tmp: Path) -> dict[str, int]:
    with build_app(load_file(tmp / "config.toml")) as app:
        ms = app.store.mail
        record = ms.digests(limit=1)[0]
        return ms.delivery_counts(record.id)


def test_sigterm_mid_send_then_restart_completes_without_duplicates(tmp_path: Path) -> None:
    smtp = SmtpServer()
    smtp.handler = SlowRecorder()
    smtp.start()
    try:
        _setup(tmp_path, smtp)
        first = Serve(tmp_path)  # catches up the missed run at start-up
        deadline = time.monotonic() + 30
        while len(smtp.received) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(smtp.received) >= 10, first.output()
        first.proc.send_signal(signal.SIGTERM)
        first.proc.wait(timeout=60)
        first.stop()
        received_before = len(smtp.received)
        counts = _ledger(tmp_path)
        # Consistent: every accepted message is marked sent, nothing else is.
        assert counts["sent"] == received_before, (counts, first.output())
        assert counts["sent"] + counts["pending"] == SUBSCRIBERS
        assert counts["pending"] > 0, "the run should have been interrupted"

        second = Serve(tmp_path)  # resumes the interrupted run
        deadline = time.monotonic() + 60
        while _ledger(tmp_path)["pending"] and time.monotonic() < deadline:
            time.sleep(0.2)
        second.stop()
        counts = _ledger(tmp_path)
        assert counts == {**counts, "sent": SUBSCRIBERS, "pending": 0}, second.output()
        ids = smtp.message_ids()
        assert len(ids) == SUBSCRIBERS
        assert all(len(v) == 1 for v in ids.values()), "a recipient got two copies"
    finally:
        smtp.stop()

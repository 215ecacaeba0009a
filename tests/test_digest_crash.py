"""SIGKILL the sending process at random points, restart it, and check the
delivery guarantee against a real aiosmtpd server:

* nobody is skipped: every active subscriber receives the digest;
* a duplicate can only be a message that was in flight when the process died —
  at most one per open connection per kill — and it carries the same
  Message-ID as the first copy (so mail systems can recognise it).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tgfeed.app import App

from .smtp_server import SmtpServer

WEEK = "2026-W48"
N = 300
CONNECTIONS = 4


def _sent(app: App) -> int:
    row = app.store.db.execute("SELECT count(*) FROM deliveries WHERE status = 'sent'").fetchone()
    return int(row[0])


@pytest.mark.slow
def test_sigkill_at_random_points_then_restart(
    app_factory: Callable[..., App], tmp_path: Path
) -> None:
    server = SmtpServer().start()
    rng = random.Random(20261130)
    try:
        # 150 messages a second: a run lasts about two seconds, kills land inside it.
        app = app_factory(
            server.toml(connections=CONNECTIONS, retry_delay=0.05, max_per_minute=9000),
            samples=True,
        )
        app.store.mail.bulk_add(
            [(f"can.bo{i:04d}@example.vn", f"Cán bộ {i}", None) for i in range(N)],
            now=app.now(),
            status="active",
            origin="test",
        )
        config = tmp_path / "config.toml"
        cmd = [
            sys.executable,
            "-m",
            "tgfeed",
            "--config",
            str(config),
            "digest",
            "send",
            "--week",
            WEEK,
        ]
        kills = mid_run_kills = 0
        for attempt in range(6):
            before = _sent(app)
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if attempt % 3 == 0:  # anywhere: start-up, snapshot, first messages
                time.sleep(rng.uniform(0.3, 1.5))
            else:  # in the middle of sending
                target = before + rng.randint(1, 60)
                deadline = time.monotonic() + 30
                while proc.poll() is None and _sent(app) < target < N:
                    assert time.monotonic() < deadline, "no progress"
                    time.sleep(0.002)
                time.sleep(rng.uniform(0, 0.03))
            if proc.poll() is not None:
                assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
                break  # it finished before the kill
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            kills += 1
            mid_run_kills += 0 < _sent(app) < N and _sent(app) > before
        final = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr
    finally:
        server.stop()

    assert kills >= 3 and mid_run_kills >= 2, (kills, mid_run_kills)
    ms = app.store.mail
    record = ms.digest(WEEK)
    assert record is not None and record.status == "sent"
    counts = ms.delivery_counts(record.id)
    assert counts == {"pending": 0, "sent": N, "failed": 0, "skipped": 0}

    ids = server.message_ids()
    expected = {f"can.bo{i:04d}@example.vn" for i in range(N)}
    assert set(ids) == expected  # nobody skipped
    for rcpt, mids in ids.items():
        assert len(set(mids)) == 1, (rcpt, mids)  # a resend has the same Message-ID
    duplicates = sum(len(m) - 1 for m in ids.values())
    assert duplicates <= kills * CONNECTIONS, (duplicates, kills)
    print(f"\n{kills} kills ({mid_run_kills} mid-run), {duplicates} duplicate(s) of {N}")

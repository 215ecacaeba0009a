"""Crash consistency of the digest send: `tgfeed digest send` killed with SIGKILL
at random points, restarted, until the week is done.

Kill points are drawn at random over the whole send: just before the relay's 250
for the k-th message (the relay holds it, the ledger does not know: the honest
duplicate), just after a 250 (the next MAIL on that connection), at a random
instant while messages flow, or at a random instant of start-up (imports, the
store, the snapshot transaction). Each
kill is followed by a restart; after the last one the send runs to the end.

Checked at the end: every subscriber's ledger row is ``sent`` and the relay holds
a whole copy for each (lost = 0); extra copies number at most one per open
connection per kill and repeat the first copy's Message-ID; each copy is a whole
MIME message (partial = 0). The short form (3 kills) runs by default; ``pytest -m
slow`` runs 20. ``TGFEED_CRASH_SEED`` fixes the points.
"""

from __future__ import annotations

import email
import email.policy
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tgfeed.app import App

from .conftest import ROOT
from .smtp_faults import FaultyRelay, Moment

WEEK = "2026-W48"
CONNECTIONS = 2


class Killer:
    """Decides, from inside the relay, when to SIGKILL the sending process."""

    def __init__(self, rng: random.Random, points: int, recipients: int) -> None:
        self.rng = rng
        spots = sorted(rng.sample(range(1, recipients + 1), points))
        modes = ["before-250", "after-250", "mid-send", "start-up"]
        self.plan = [(k, rng.choice(modes)) for k in spots]
        self.proc: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()
        self.dots = 0
        self.armed: tuple[int, str] | None = None
        self.kills: Counter[str] = Counter()

    def kill(self, how: str) -> None:
        with self.lock:
            proc, self.armed = self.proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            self.kills[how] += 1

    def script(self, m: Moment) -> str | None:
        if m.stage == "dot":
            with self.lock:
                self.dots += 1
                armed = self.armed
            if armed and armed[1] == "before-250" and self.dots >= armed[0]:
                self.kill("before-250")
        elif m.stage == "mail":
            with self.lock:
                armed = self.armed
            if armed and armed[1] == "after-250" and self.dots >= armed[0]:
                self.kill("after-250")
        return None


def start_send(config: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "TGFEED_CONFIG"}
    return subprocess.Popen(
        [sys.executable, "-m", "tgfeed", "--config", str(config), "digest", "send", "--week", WEEK],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def whole(data: bytes) -> bool:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    if msg.defects or not msg["Message-ID"]:
        return False
    kinds = {part.get_content_type() for part in msg.walk()}
    return {"text/plain", "text/html"} <= kinds


def crash_digest(app: App, relay: FaultyRelay, killer: Killer, n: int) -> Counter[str]:
    config = app.config.source_path
    assert config is not None
    stats: Counter[str] = Counter(dict.fromkeys(["lost", "not sent", "partial", "duplicates"], 0))
    for at, how in killer.plan:
        proc = start_send(config)
        with killer.lock:
            killer.proc = proc
            start_dots = killer.dots
            killer.armed = (max(at, start_dots + 1), how) if how.endswith("250") else None
        if how == "start-up":  # import, config, store, snapshot: before or at the first send
            time.sleep(killer.rng.uniform(0.05, 1.0))
            killer.kill(how)
        elif how == "mid-send":  # a random instant once messages are flowing
            deadline = time.monotonic() + 60
            while killer.dots == start_dots and proc.poll() is None:
                assert time.monotonic() < deadline, "no message arrived"
                time.sleep(0.002)
            time.sleep(killer.rng.uniform(0, 0.3))
            killer.kill(how)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        stats["killed" if proc.returncode == -9 else "finished before its kill"] += 1
        if proc.returncode not in (-9, 0):
            stderr = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"send exited {proc.returncode}: {stderr}")
    proc = start_send(config)  # the last restart runs to the end
    with killer.lock:
        killer.proc, killer.armed = proc, None
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode() if proc.stderr else ""

    ms = app.store.mail
    record = ms.digest(WEEK)
    assert record is not None and record.status == "sent"
    rows = {r.email: r for r in ms.deliveries(record.id, limit=10 * n)}
    copies = relay.copies()
    for addr, row in rows.items():
        held = copies.get(addr, [])
        stats["sent"] += row.status == "sent"
        stats["lost"] += row.status == "sent" and not held
        stats["not sent"] += row.status != "sent"
        stats["duplicates"] += max(0, len(held) - 1)
        stats["duplicates with another Message-ID"] += len({k.message_id for k in held}) > 1
        stats["duplicates with other bytes"] += len({k.data for k in held}) > 1
        stats["partial"] += sum(not whole(k.data) for k in held)
    stats["recipients"] = len(rows)
    stats["kills"] = sum(killer.kills.values())
    for how, count in killer.kills.items():
        stats[f"kills {how}"] = count
    return stats


@pytest.mark.parametrize("points", [3, pytest.param(20, marks=pytest.mark.slow)])
def test_sigkill_during_a_digest_send_loses_nothing(
    app_factory: Callable[..., App], points: int
) -> None:
    seed = int(os.environ.get("TGFEED_CRASH_SEED") or random.SystemRandom().randrange(10**6))
    rng = random.Random(seed)
    n = 40 * points
    killer = Killer(rng, points, n)
    with FaultyRelay(killer.script) as relay:
        # 6,000 messages a minute: a send lasts long enough for kills to land inside it.
        app = app_factory(
            relay.toml(connections=CONNECTIONS, timeout=10, max_per_minute=6000), samples=True
        )
        app.store.mail.bulk_add(
            [(f"user{i:05d}@example.vn", f"Người nhận {i}", None) for i in range(n)],
            now=app.now(),
            status="active",
            origin="test",
        )
        stats = crash_digest(app, relay, killer, n)
    print(f"\ndigest crash figures (seed {seed}): {dict(sorted(stats.items()))}")
    assert stats["recipients"] == n and stats["sent"] == n, stats
    assert stats["lost"] == 0 and stats["not sent"] == 0 and stats["partial"] == 0, stats
    assert stats["duplicates with another Message-ID"] == 0, stats
    assert stats["duplicates with other bytes"] == 0, stats
    assert stats["duplicates"] <= CONNECTIONS * stats["kills"], stats
    assert stats["kills"] >= 1, stats

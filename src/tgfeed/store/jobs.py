"""Job runs, per-job state (for catching up missed runs), the scheduler lease and
alert throttling."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from ..text import parse_iso_datetime, utc_iso
from .db import Database, Db, Migrations, guarded
from .leases import LeasesMixin

migrations = Migrations("tgfeed.jobs")


@migrations()
def m001_jobs(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE job_runs (
            id INTEGER PRIMARY KEY,
            job TEXT NOT NULL,
            kind TEXT NOT NULL,
            trigger TEXT NOT NULL,          -- 'schedule', 'catch-up', 'manual'
            scheduled_at TEXT,              -- the fire time this run is for (UTC)
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT NOT NULL,          -- running, ok, failed, missed, skipped
            dry_run INTEGER NOT NULL DEFAULT 0,
            summary TEXT,                   -- JSON counts
            error TEXT
        );
        CREATE INDEX job_runs_job ON job_runs(job, id);
        CREATE TABLE job_state (
            job TEXT PRIMARY KEY,
            known_since TEXT NOT NULL,       -- when the service first scheduled it
            last_scheduled_at TEXT           -- the latest fire time handled (run or missed)
        );
        CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE TABLE alerts (
            job TEXT PRIMARY KEY,
            last_sent_at TEXT NOT NULL
        );
        """
    )


RUN_KEYS = (
    "id",
    "job",
    "kind",
    "trigger",
    "scheduled_at",
    "started_at",
    "finished_at",
    "outcome",
    "dry_run",
    "summary",
    "error",
)


@guarded
class JobsRepo(LeasesMixin):
    """Job runs, catch-up state, named leases and alert throttling."""

    def __init__(self, db: Db) -> None:
        self._db = db

    # -- runs ----------------------------------------------------------------

    def start_run(
        self,
        job: str,
        kind: str,
        trigger: str,
        scheduled_at: datetime | None,
        started_at: datetime,
        dry_run: bool,
    ) -> int:
        with self._db.write():
            cur = self._db.execute(
                "INSERT INTO job_runs (job, kind, trigger, scheduled_at, started_at, outcome, "
                "dry_run) VALUES (?, ?, ?, ?, ?, 'running', ?)",
                (
                    job,
                    kind,
                    trigger,
                    utc_iso(scheduled_at) if scheduled_at else None,
                    utc_iso(started_at),
                    int(dry_run),
                ),
            )
            if scheduled_at is not None and not dry_run:
                self._handled(job, scheduled_at, started_at)
        return int(cur.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        outcome: str,
        finished_at: datetime,
        summary: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        with self._db.write():
            self._db.execute(
                "UPDATE job_runs SET outcome = ?, finished_at = ?, summary = ?, error = ? "
                "WHERE id = ?",
                (
                    outcome,
                    utc_iso(finished_at),
                    json.dumps(summary, ensure_ascii=False, default=str) if summary else None,
                    error,
                    run_id,
                ),
            )

    def record_missed(
        self, job: str, kind: str, scheduled_at: datetime, now: datetime, reason: str
    ) -> int:
        with self._db.write():
            cur = self._db.execute(
                "INSERT INTO job_runs (job, kind, trigger, scheduled_at, started_at, finished_at, "
                "outcome, error) VALUES (?, ?, 'schedule', ?, ?, ?, 'missed', ?)",
                (job, kind, utc_iso(scheduled_at), utc_iso(now), utc_iso(now), reason),
            )
            self._handled(job, scheduled_at, now)
        return int(cur.lastrowid or 0)

    def interrupted_runs(self, now: datetime) -> int:
        """Runs left 'running' by a process that died: marked failed (at start-up)."""
        with self._db.write():
            cur = self._db.execute(
                "UPDATE job_runs SET outcome = 'failed', finished_at = ?, "
                "error = 'interrupted: the process stopped during the run' "
                "WHERE outcome = 'running'",
                (utc_iso(now),),
            )
        return cur.rowcount

    def recent_runs(self, limit: int = 20, job: str | None = None) -> list[dict[str, Any]]:
        where, args = ("WHERE job = ?", [job]) if job else ("", [])
        rows = self._db.rows(
            f"SELECT {', '.join(RUN_KEYS)} FROM job_runs {where} ORDER BY id DESC LIMIT ?",
            [*args, limit],
        )
        out = []
        for row in rows:
            rec = dict(row)
            rec["summary"] = json.loads(rec["summary"]) if rec["summary"] else None
            rec["dry_run"] = bool(rec["dry_run"])
            out.append(rec)
        return out

    def last_run(self, job: str) -> dict[str, Any] | None:
        runs = self.recent_runs(1, job)
        return runs[0] if runs else None

    def failures(self, limit: int = 20) -> list[dict[str, Any]]:
        return [r for r in self.recent_runs(500) if r["outcome"] in ("failed", "missed", "held")][
            :limit
        ]

    def prune(self, before: datetime) -> int:
        with self._db.write():
            cur = self._db.execute(
                "DELETE FROM job_runs WHERE started_at < ? AND outcome != 'running'",
                (utc_iso(before),),
            )
        return cur.rowcount

    # -- state for catching up ---------------------------------------------

    def state(self, job: str) -> tuple[datetime, datetime | None] | None:
        row = self._db.row(
            "SELECT known_since, last_scheduled_at FROM job_state WHERE job = ?", (job,)
        )
        if row is None:
            return None
        last = row["last_scheduled_at"]
        return parse_iso_datetime(row["known_since"]), parse_iso_datetime(last) if last else None

    def ensure_state(self, job: str, now: datetime) -> None:
        with self._db.write():
            self._db.execute(
                "INSERT OR IGNORE INTO job_state (job, known_since) VALUES (?, ?)",
                (job, utc_iso(now)),
            )

    def _handled(self, job: str, scheduled_at: datetime, now: datetime) -> None:
        self._db.execute(
            "INSERT INTO job_state (job, known_since, last_scheduled_at) VALUES (?, ?, ?) "
            "ON CONFLICT(job) DO UPDATE SET last_scheduled_at = "
            "max(coalesce(last_scheduled_at, ''), excluded.last_scheduled_at)",
            (job, utc_iso(now), utc_iso(scheduled_at)),
        )

    # -- alerts ----------------------------------------------------------------

    def alert_due(self, job: str, now: datetime, interval: timedelta) -> bool:
        """True (and the alert recorded) if no alert for this job went out within interval."""
        with self._db.write():
            last = self._db.value("SELECT last_sent_at FROM alerts WHERE job = ?", (job,))
            if last and parse_iso_datetime(last) > now - interval:
                return False
            self._db.execute(
                "INSERT INTO alerts (job, last_sent_at) VALUES (?, ?) "
                "ON CONFLICT(job) DO UPDATE SET last_sent_at = excluded.last_sent_at",
                (job, utc_iso(now)),
            )
        return True

"""Ingest runs and their per-item failures: what every import, crawl and push left."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..model import BatchResult
from ..text import utc_iso
from .db import Db


class IngestRunsMixin:
    _db: Db

    def record_run(
        self, source: str, result: BatchResult, *, started: datetime, finished: datetime
    ) -> int:
        """Store a finished ingest run with its per-item failures; returns its id."""
        c = result.counts
        with self._db.write() as conn:
            cur = conn.execute(
                "INSERT INTO ingest_runs (source, started_at, finished_at, added, updated, "
                "unchanged, failed) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    source,
                    utc_iso(started),
                    utc_iso(finished),
                    c["added"],
                    c["updated"],
                    c["unchanged"],
                    c["failed"],
                ),
            )
            run_id = int(cur.lastrowid or 0)
            conn.executemany(
                "INSERT INTO ingest_failures (run_id, item, reason, at) VALUES (?, ?, ?, ?)",
                [(run_id, f.item, f.reason or "", utc_iso(finished)) for f in result.failures],
            )
        return run_id

    def recent_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        rows = self._db.rows(
            "SELECT id, source, started_at, finished_at, added, updated, unchanged, failed "
            "FROM ingest_runs ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]

    def recent_failures(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._db.rows(
            "SELECT f.run_id, r.source, f.item, f.reason, f.at FROM ingest_failures f "
            "JOIN ingest_runs r ON r.id = f.run_id ORDER BY f.id DESC LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]

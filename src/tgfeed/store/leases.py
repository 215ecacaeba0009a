"""Named leases: one holder at a time for ``scheduler``, ``digest:2026-W48``, …

A lease is taken for a time-to-live and renewed by its holder; it can be taken
from another holder once it expired, or at once when that holder is a process
of this host that no longer runs (it crashed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..procs import holder_alive
from ..text import parse_iso_datetime, utc_iso
from .db import Db

SCHEDULER_LEASE = "scheduler"


def digest_lease(week: str) -> str:
    """The lease a process holds while it sends the digest of ``week``."""
    return f"digest:{week}"


@dataclass(frozen=True, slots=True)
class LeaseGrant:
    """A lease was granted; ``previous`` is the holder it was taken from, if any."""

    name: str
    holder: str
    expires_at: datetime
    previous: str | None = None


class LeasesMixin:
    _db: Db
    alive: Callable[[str], bool] = staticmethod(holder_alive)

    def acquire_lease(
        self, name: str, holder: str, *, now: datetime, ttl: timedelta
    ) -> LeaseGrant | None:
        """Take or renew ``name``; None while another live holder has it."""
        with self._db.write() as conn:
            row = self._db.row("SELECT holder, expires_at FROM leases WHERE name = ?", (name,))
            previous = row["holder"] if row and row["holder"] != holder else None
            if (
                row is not None
                and previous is not None
                and parse_iso_datetime(row["expires_at"]) > now
                and self.alive(previous)
            ):
                return None
            conn.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, "
                "expires_at = excluded.expires_at",
                (name, holder, utc_iso(now + ttl)),
            )
        return LeaseGrant(name, holder, now + ttl, previous)

    def renew_lease(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
        """Extend a lease this holder has; False if it lost it meanwhile."""
        with self._db.write() as conn:
            cur = conn.execute(
                "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?",
                (utc_iso(now + ttl), name, holder),
            )
        return cur.rowcount == 1

    def release_lease(self, name: str, holder: str) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    def lease_holder(self, name: str, now: datetime) -> str | None:
        """Who holds ``name`` now (None if nobody, or the lease expired)."""
        row = self._db.row("SELECT holder, expires_at FROM leases WHERE name = ?", (name,))
        if row and parse_iso_datetime(row["expires_at"]) > now:
            return str(row["holder"])
        return None

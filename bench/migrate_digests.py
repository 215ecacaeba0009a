"""The cost of the digest-lifecycle migration (``tgfeed.mail`` m002) on a big store.

    python -m bench.migrate_digests [--subscribers 100000] [--weeks 10] [--pairs 3]

Builds a store as the previous release left it (every week ``sent`` to every
subscriber: subscribers × weeks ledger rows), then times ``open_store`` applying
the migration (A) against ``open_store`` reopening the migrated store (B, the
plain baseline: what every start costs anyway), A and B back to back, and prints
CPU time (min/median/max over the pairs) with wall time beside it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tgfeed.store import MIGRATIONS, open_store
from tgfeed.store.db import connect


def old_store(path: Path, subscribers: int, weeks: int) -> None:
    db = connect(path)
    for mig in MIGRATIONS:
        mig.apply(db.db, stop_before="m002_digest_lifecycle")
    c = db.conn
    c.execute("BEGIN")
    c.executemany(
        "INSERT INTO subscribers (id, email, email_key, status, origin, created_at, updated_at) "
        "VALUES (?, ?, ?, 'active', 'cli', '2026-01-05', '2026-01-05')",
        [(i, f"u{i}@example.vn", f"u{i}@example.vn") for i in range(1, subscribers + 1)],
    )
    for w in range(1, weeks + 1):
        c.execute(
            "INSERT INTO digests (id, week, status, subject, article_count, mail_html, "
            "mail_text, web_html, web_text, created_at) "
            "VALUES (?, ?, 'sent', 's', 60, ?, ?, ?, ?, '2026-01-05')",
            (w, f"2026-W{w:02d}", "h" * 60_000, "t" * 20_000, "w" * 60_000, "t" * 20_000),
        )
        c.executemany(
            "INSERT INTO deliveries (digest_id, subscriber_id, email, status) "
            "VALUES (?, ?, ?, 'sent')",
            [(w, i, f"u{i}@example.vn") for i in range(1, subscribers + 1)],
        )
    c.execute("COMMIT")
    db.close()


def timed_open(path: Path) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    with open_store(path):
        pass
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--weeks", type=int, default=10)
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    a_cpu, a_wall, b_cpu, b_wall = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.pairs):
            path = Path(tmp) / f"store{n}.db"
            old_store(path, args.subscribers, args.weeks)
            cpu, wall = timed_open(path)  # A: applies the migration
            a_cpu.append(cpu)
            a_wall.append(wall)
            cpu, wall = timed_open(path)  # B: reopens, nothing to apply
            b_cpu.append(cpu)
            b_wall.append(wall)
    rows = args.subscribers * args.weeks

    def fmt(xs: list[float]) -> str:
        return f"{min(xs):.3f} / {statistics.median(xs):.3f} / {max(xs):.3f} s"

    print(f"{rows:,} ledger rows ({args.subscribers:,} subscribers × {args.weeks} weeks)")
    print(f"A migrate : cpu {fmt(a_cpu)}   wall {fmt(a_wall)}")
    print(f"B reopen  : cpu {fmt(b_cpu)}   wall {fmt(b_wall)}")


if __name__ == "__main__":
    main()

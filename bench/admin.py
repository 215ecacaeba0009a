"""What the console costs: one password check (scrypt), and one page of the
subscriber search over 100,000 subscribers.

``python -m bench.admin`` prints CPU time min/median/max over 5 runs each.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tgfeed.auth import hash_password, verify_password
from tgfeed.store import open_store

N = 100_000


def cpu_ms(fn: Callable[[], object], runs: int = 5) -> str:
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) * 1000)
    return f"{min(times):.1f}/{statistics.median(times):.1f}/{max(times):.1f} ms"


def main() -> None:
    password = "mật khẩu đủ dài 2026"
    stored = hash_password(password)
    print(
        f"scrypt check (n=2^14, r=8, p=1), CPU min/median/max: "
        f"{cpu_ms(lambda: verify_password(password, stored))}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "bench.db")
        rows = (
            (f"nguoi{i}@don-vi-{i % 300}.gov.vn", f"Nguyễn Văn {i}", f"Đơn vị {i % 300}")
            for i in range(N)
        )
        store.mail.bulk_add(rows, now=datetime.now(UTC), status="active", origin="bench")
        for query in ("", "don-vi-17.gov", "Nguyễn Văn 4242", "khong-co"):
            _, total = store.mail.search_subscribers(query, limit=50)
            took = cpu_ms(lambda q=query: store.mail.search_subscribers(q, limit=50))
            print(
                f"search {query!r:18} over {N:,} subscribers: {total:6} matches, "
                f"one page of 50, CPU min/median/max: {took}"
            )
        store.close()


if __name__ == "__main__":
    main()

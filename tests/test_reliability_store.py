"""SQLite busy: another process holds the write lock longer than ``[store]
busy_timeout``. Readers never wait (WAL): feeds are served and built. Writers
wait, then fail cleanly — the push API answers 503 "try again later", an import
reports each item failed with the reason and exits 1 with one line — nothing is
half-stored, and the same request succeeds once the lock is gone. (A lock held
shorter than busy_timeout is simply waited for: test_store.py.)"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tgfeed.app import App, build_app
from tgfeed.jobs.feeds import build_feeds
from tgfeed.jobs.ingest import import_paths
from tgfeed.loader import load
from tgfeed.web import create_app

from .conftest import SAMPLES, FixedClock, write_config
from .reliability_support import check_document

TOKEN = "busy-token-0123456789"


def record(n: int) -> dict[str, Any]:
    return {
        "url": f"https://tuyengiaohungyen.vn/bai-viet/ban-khoa-{n}-{5000 + n}.aspx",
        "title": f"Hội nghị trong lúc khóa số {n}",
        "category": ["Thông tin - Tuyên truyền", "Tin tức hoạt động"],
        "published": "2026-11-28T09:00:00+07:00",
        "body_text": "Nội dung.",
    }


@contextmanager
def write_lock(db: Path) -> Iterator[None]:
    """Another process's write transaction, held until the block ends."""
    other = sqlite3.connect(db, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@pytest.fixture
def busy_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """An App with the samples whose busy_timeout is 200 ms."""
    monkeypatch.setenv("TGFEED_BUSY_TOKEN", TOKEN)
    path = write_config(tmp_path, '[web]\napi_token_env = "TGFEED_BUSY_TOKEN"\n')
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[store]\n", "[store]\nbusy_timeout = 200\n"), encoding="utf-8")
    app = build_app(load(path), clock=FixedClock())
    assert import_paths(app, [SAMPLES]).count("failed") == 0
    yield app
    app.close()


def test_readers_and_builds_go_on_while_a_writer_holds_the_lock(
    busy_app: App, live_server: Any, tmp_path: Path
) -> None:
    db = busy_app.path(busy_app.config.store.path)
    with (
        live_server(create_app(busy_app, scheduler=False)) as srv,
        httpx.Client(base_url=srv.url) as c,
        write_lock(db),
    ):
        for path in ("/", "/feeds/all.rss", "/feeds/all.json", "/feeds/search.atom?q=hoi+nghi"):
            r = c.get(path)
            assert r.status_code == 200, path
            check_document(path, r.content, r.headers["content-type"])
        result = build_feeds(busy_app, tmp_path / "static")
        assert result.failures == () and result.written > 0


def test_push_during_a_long_lock_is_503_then_succeeds(busy_app: App, live_server: Any) -> None:
    db = busy_app.path(busy_app.config.store.path)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = busy_app.store.articles.count()
    with (
        live_server(create_app(busy_app, scheduler=False)) as srv,
        httpx.Client(base_url=srv.url, timeout=10) as c,
    ):
        with write_lock(db):
            r = c.post("/api/articles", json=[record(1), record(2)], headers=auth)
            assert r.status_code == 503, r.text
            assert "locked" in r.json()["error"] and r.json()["hint"] == "try again later"
        assert busy_app.store.articles.count() == before  # nothing half-stored
        r = c.post("/api/articles", json=[record(1), record(2)], headers=auth)
        assert r.status_code == 200 and r.json()["counts"]["added"] == 2


def test_import_during_a_long_lock_fails_its_items_with_the_reason(
    busy_app: App, tmp_path: Path
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(record(n)) for n in range(3)) + "\n", encoding="utf-8")
    db = busy_app.path(busy_app.config.store.path)
    before = busy_app.store.articles.count()
    with write_lock(db):
        result = import_paths(busy_app, [src])
    assert result.count("failed") == 3
    assert all("locked" in (f.reason or "") for f in result.failures)
    assert busy_app.store.articles.count() == before
    again = import_paths(busy_app, [src])
    assert again.count("added") == 3


def test_cli_import_during_a_long_lock_is_one_line_and_exit_1(
    busy_app: App, tmp_path: Path
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(record(9)) + "\n", encoding="utf-8")
    db = busy_app.path(busy_app.config.store.path)
    env = {k: v for k, v in os.environ.items() if k != "TGFEED_CONFIG"}
    with write_lock(db):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tgfeed",
                "--config",
                str(tmp_path / "config.toml"),
                "import",
                str(src),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "locked" in done.stdout + done.stderr

"""A disk that fills up during `tgfeed build`: the feeds already published stay
whole and keep being served, the build says which files it could not write (exit
1, a failed and alerted job), and the next build with space converges.

Two disks: a failing writer (``os.write`` raises ENOSPC after a byte budget; runs
everywhere) and a real, tiny tmpfs (needs root; skipped otherwise)."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import mailbox
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from tgfeed.app import App
from tgfeed.jobs.feeds import build_feeds
from tgfeed.model import Article
from tgfeed.scheduler.runner import run_job

from .reliability_support import (
    article,
    check_document,
    disk_full,
    linked_feeds,
    published_files,
    remount,
    temp_files,
    tmpfs,
)

ENOSPC = "No space left on device"


def news_everywhere(app: App, start: int = 1) -> list[Article]:
    """One new article in every leaf category, and one in a brand-new category:
    after this every feed, the index and the OPML have new bytes."""
    leaves = {c.names for c in app.store.articles.categories(only_used=True)}
    leaves = {n for n in leaves if not any(o != n and o[: len(n)] == n for o in leaves)}
    names = [*sorted(leaves), ("Tin mới", "Chuyên mục vừa lập")]
    arts = [article(start + i, category=n) for i, n in enumerate(names)]
    app.store.articles.upsert(arts, now=app.now())
    return arts


def reference(app: App, where: Path) -> dict[str, bytes]:
    """What a clean build of the store's current state publishes."""
    result = build_feeds(app, where)
    assert result.failures == ()
    return published_files(where)


def assert_consistent(
    out: Path, before: dict[str, bytes], after_ref: dict[str, bytes], failed: set[str]
) -> dict[str, bytes]:
    """Every published file is whole and is either its old or its new version; every
    failed file is still its old version (or absent if it is new); nothing old is
    lost; no temp file stays; the index and OPML link only to files that exist."""
    now = published_files(out)
    for rel, data in now.items():
        check_document(rel, data)
        assert data in (before.get(rel), after_ref.get(rel)), f"{rel}: neither old nor new"
    assert set(before) <= set(now), f"lost: {sorted(set(before) - set(now))}"
    for rel in failed:
        assert now.get(rel) == before.get(rel), f"{rel}: a failed file changed"
    assert temp_files(out) == []
    missing = linked_feeds(out) - set(now)
    assert not missing, f"index/OPML link to unpublished feeds: {sorted(missing)}"
    return now


@pytest.mark.parametrize("share", [0.0, 0.3, 0.7])
def test_disk_full_mid_build_keeps_every_published_feed_whole(
    sample_app: App, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, share: float
) -> None:
    out = build_feeds(sample_app).output_dir
    before = published_files(out)
    news_everywhere(sample_app)
    after_ref = reference(sample_app, tmp_path / "reference")
    changed = {rel for rel, data in after_ref.items() if before.get(rel) != data}
    budget = int(sum(len(after_ref[rel]) for rel in changed) * share)

    with disk_full(monkeypatch, out, budget) as fault:
        result = build_feeds(sample_app)
    assert fault.refused >= 1
    failed = {rel for rel, _ in result.failures}
    assert failed, "a full disk must be reported"
    assert all(ENOSPC in reason for _, reason in result.failures), result.failures
    assert failed <= changed | {".tgfeed-build.json"}
    now = assert_consistent(out, before, after_ref, failed)
    for rel in result.written_paths:
        assert now[rel] == after_ref[rel]
    if share == 0.0:
        assert result.written == 0 and now == before  # nothing at all could be written

    # Space again: the next build converges to exactly what a clean build publishes.
    again = build_feeds(sample_app)
    assert again.failures == ()
    assert published_files(out) == after_ref
    assert temp_files(out) == []


def test_a_failed_build_job_is_recorded_and_alerted(
    app_factory: Callable[..., App], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = app_factory('[admin]\nalert_to = ["it@tuyengiaohungyen.vn"]\n', samples=True)
    out = build_feeds(app).output_dir
    news_everywhere(app)
    with disk_full(monkeypatch, out, 0):
        outcome = asyncio.run(run_job(app, "build_feeds"))
    assert outcome.outcome == "failed"
    assert outcome.error and "feed file(s) not written" in outcome.error and ENOSPC in outcome.error
    box = mailbox.Maildir(tmp_path / "outbox", create=False)
    subjects = [
        str(email.message_from_bytes(m.as_bytes(), policy=email.policy.default)["Subject"])
        for m in box
    ]
    assert len(subjects) == 1 and "build_feeds" in subjects[0]


def static_server(root: Path) -> Starlette:
    """What nginx does with the output folder."""
    return Starlette(routes=[Mount("/", app=StaticFiles(directory=root, html=True))])


def cli_build(config: Path, out: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TGFEED_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "tgfeed", "--config", str(config), "build", "-q", "--output", out],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_real_full_filesystem_keeps_serving_the_previous_feeds(
    sample_app: App, tmp_path: Path, live_server: Any
) -> None:
    first_ref = reference(sample_app, tmp_path / "ref1")
    pages = sum(-(-len(b) // 4096) for b in first_ref.values())
    config = sample_app.config.source_path
    assert config is not None
    # Room for the first build (plus the manifest and a little slack), not for a second copy.
    with tmpfs(tmp_path / "mnt", (pages + 6) * 4) as mnt:
        first = cli_build(config, mnt)
        assert first.returncode == 0, first.stderr
        before = published_files(mnt)
        assert before == first_ref

        news_everywhere(sample_app)
        after_ref = reference(sample_app, tmp_path / "ref2")
        second = cli_build(config, mnt)
        assert second.returncode == 1
        failures = [ln for ln in second.stderr.splitlines() if ln.startswith("failed ")]
        assert failures and all(ENOSPC in ln for ln in failures), second.stderr
        failed = {ln.split()[1].rstrip(":") for ln in failures}
        now = assert_consistent(mnt, before, after_ref, failed)

        # A web server over the full disk serves whole documents, the old ones for
        # every file the build could not replace.
        with live_server(static_server(mnt)) as srv, httpx.Client(base_url=srv.url) as c:
            for rel, data in now.items():
                r = c.get("/" + rel)
                assert r.status_code == 200 and r.content == data
                check_document(rel, r.content)

        remount(mnt, (pages * 2 + 64) * 4)
        third = cli_build(config, mnt)
        assert third.returncode == 0, third.stderr
        assert published_files(mnt) == after_ref
        assert temp_files(mnt) == []


def test_unwritable_output_folder_fails_each_file_and_keeps_them(
    sample_app: App, tmp_path: Path
) -> None:
    """Permissions changed under a running service: the same promise as a full disk."""
    if os.geteuid() == 0:
        pytest.skip("root ignores permissions")
    out = build_feeds(sample_app).output_dir
    before = published_files(out)
    news_everywhere(sample_app)
    after_ref = reference(sample_app, tmp_path / "reference")
    dirs = [out, *(p for p in out.rglob("*") if p.is_dir())]
    for d in dirs:
        d.chmod(0o555)
    try:
        result = build_feeds(sample_app)
    finally:
        for d in dirs:
            d.chmod(0o755)
    assert result.failures and result.written == 0
    assert_consistent(out, before, after_ref, {rel for rel, _ in result.failures})


def test_served_feeds_do_not_depend_on_the_output_folder(
    sample_app: App, monkeypatch: pytest.MonkeyPatch, live_server: Any
) -> None:
    """`tgfeed serve` renders from the store: a full disk under [feeds] output_dir
    changes nothing it serves."""
    from tgfeed.web import create_app

    out = build_feeds(sample_app).output_dir
    arts = news_everywhere(sample_app)
    with (
        disk_full(monkeypatch, out, 0),
        live_server(create_app(sample_app, scheduler=False)) as srv,
        httpx.Client(base_url=srv.url) as c,
    ):
        for path in ("/", "/feeds/all.rss", "/feeds/all.atom", "/feeds/all.json", "/feeds.opml"):
            r = c.get(path)
            assert r.status_code == 200
            check_document(path, r.content, r.headers["content-type"])
        assert arts[-1].id in c.get("/feeds/all.atom").text
        fresh = dataclasses.replace(arts[-1], title="Tin sửa lại")
        sample_app.store.articles.upsert([fresh], now=sample_app.now())
        assert "Tin sửa lại" in c.get("/feeds/tin-moi.rss").text


def test_temp_files_of_a_killed_build_are_removed_but_a_live_ones_kept(
    sample_app: App,
) -> None:
    out = build_feeds(sample_app).output_dir
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        orphan = out / "feeds" / f".all.rss.{dead_pid}-140000.tmp"
        busy = out / "feeds" / f".all.atom.{live.pid}-140000.tmp"
        other = out / "feeds" / ".notes.tmp"  # not ours: left alone
        for p in (orphan, busy, other):
            p.write_bytes(b"<rss><chan")
        news_everywhere(sample_app)
        assert build_feeds(sample_app).failures == ()
        assert not orphan.exists()
        assert busy.exists() and other.exists()
    finally:
        live.kill()
        live.wait()


def test_cli_errors_are_one_literal_line_each(tmp_path: Path) -> None:
    """`[feeds]` in a hint is text, not markup; a long message is not wrapped."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file", encoding="utf-8")
    target = blocker / ("x" * 150)
    env = {k: v for k, v in os.environ.items() if k != "TGFEED_CONFIG"} | {"COLUMNS": "40"}
    done = subprocess.run(
        [sys.executable, "-m", "tgfeed", "build", "--output", str(target)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: {target}: cannot create the output folder: Not a directory",
        "hint: set [feeds] output_dir (or --output) to a writable folder",
    ]


def test_a_new_feed_that_could_not_be_written_is_not_listed_yet(
    sample_app: App, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The index and the OPML never link to a feed file that is not there."""
    out = build_feeds(sample_app).output_dir
    news_everywhere(sample_app)  # adds the new category "Tin mới" (feeds/tin-moi.*)
    with disk_full(monkeypatch, out, 0, only=".tin-moi."):
        result = build_feeds(sample_app)
    failed = {rel for rel, _ in result.failures}
    assert failed == {f"feeds/tin-moi.{fmt}" for fmt in ("rss", "atom", "json")}
    assert {"index.html", "feeds.opml", "feeds/all.rss"} <= set(result.written_paths)
    assert not linked_feeds(out) & failed
    assert "feeds/tin-moi/chuyen-muc-vua-lap.rss" in linked_feeds(out)  # its child was written
    assert linked_feeds(out) <= set(published_files(out))
    again = build_feeds(sample_app)
    assert again.failures == ()
    assert "feeds/tin-moi.rss" in linked_feeds(out)
    assert published_files(out) == reference(sample_app, tmp_path / "reference")

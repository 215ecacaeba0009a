"""The one ingest path (`jobs.ingest`): per-item outcomes, batches, the run record,
dry runs and the export, on a real SQLite store. No sockets, no sleeps."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tgfeed.app import App
from tgfeed.errors import IngestError
from tgfeed.importers import article_from_record
from tgfeed.jobs.ingest import BATCH, export_jsonl, ingest_items, store_batch
from tgfeed.model import Article, BatchResult, ItemResult

from .conftest import FIXED_NOW, FixedClock

SITE = "https://tuyengiaohungyen.vn"


def art(n: int, title: str = "Hội nghị tuyên giáo") -> Article:
    rec = {
        "id": f"a{n}",
        "title": f"{title} số {n}",
        "category": ["Thông tin - Tuyên truyền"],
        "published": "2026-11-24T08:15:00+07:00",
        "body_text": f"Nội dung bài số {n}.",
    }
    return article_from_record(rec, f"in:{n}", SITE)


def labelled(*ns: int) -> list[tuple[str, Article | IngestError]]:
    return [(f"in:{n}", art(n)) for n in ns]


def refuse(app: App, article_id: str) -> None:
    """The store refuses any batch holding ``article_id`` (a trigger, as a full disk would)."""
    app.store.db.conn.execute(
        f"CREATE TRIGGER refuse_{article_id} BEFORE INSERT ON articles "
        f"WHEN NEW.id = '{article_id}' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )


def test_each_item_gets_its_outcome_with_its_label_and_id(app: App) -> None:
    seen: list[ItemResult] = []
    bad = ItemResult("in:3", "failed", None, "in:3: 'title' is missing")
    items = [*labelled(1, 2), ("in:3", IngestError("in:3: 'title' is missing"))]
    first = ingest_items(app, items, source="test", on_item=seen.append)
    stored = [r for r in seen if r.outcome != "failed"]
    assert stored == [ItemResult("in:1", "added", "a1"), ItemResult("in:2", "added", "a2")]
    assert [r for r in seen if r.outcome == "failed"] == [bad]
    assert first.counts == {"added": 2, "updated": 0, "unchanged": 0, "failed": 1}
    assert first.failures == [bad]
    changed = [("again:1", art(1, "Hội nghị đã sửa")), ("again:2", art(2))]
    second = ingest_items(app, changed, source="test")
    assert second.counts == {"added": 0, "updated": 1, "unchanged": 1, "failed": 0}
    stored = app.store.articles.get("a1")
    assert stored is not None and stored.title == "Hội nghị đã sửa số 1"


def test_a_bad_item_never_stops_the_batch(app: App) -> None:
    items = [("in:0", IngestError("in:0: not valid JSON")), *labelled(1, 2)]
    result = ingest_items(app, items, source="test")
    assert result.counts["added"] == 2 and result.counts["failed"] == 1
    assert app.store.articles.count() == 2


def test_a_refused_batch_fails_its_items_with_the_reason_and_the_others_are_stored(
    app: App,
) -> None:
    """Batches of BATCH (500, docs/scaling.md): the store refusing one fails exactly
    that batch's items; the batch before it is stored, the run goes on and is recorded."""
    assert BATCH == 500
    refuse(app, f"a{BATCH + 1}")
    items = labelled(*range(1, BATCH + 3))  # two batches: 500, then 2 (one refused)
    result = ingest_items(app, items, source="test")
    assert result.counts == {"added": BATCH, "updated": 0, "unchanged": 0, "failed": 2}
    assert [(f.item, f.article_id) for f in result.failures] == [
        (f"in:{BATCH + 1}", f"a{BATCH + 1}"),
        (f"in:{BATCH + 2}", f"a{BATCH + 2}"),
    ]
    assert all(f.reason and "full" in f.reason for f in result.failures)
    assert app.store.articles.count() == BATCH
    assert app.store.articles.get(f"a{BATCH}") is not None
    assert app.store.articles.get(f"a{BATCH + 2}") is None
    run = app.store.articles.recent_runs(1)[0]
    assert (run["added"], run["failed"]) == (BATCH, 2)


def test_store_batch_says_whether_the_store_took_the_batch(app: App) -> None:
    refuse(app, "a2")
    seen: list[ItemResult] = []
    ok = BatchResult()
    assert store_batch(app, [("in:1", art(1))], ok, on_item=seen.append) is True
    assert ok.counts["added"] == 1 and seen == [ItemResult("in:1", "added", "a1")]
    empty = BatchResult()
    assert store_batch(app, [], empty) is True
    assert empty.total == 0
    bad = BatchResult()
    assert store_batch(app, [("in:2", art(2)), ("in:3", art(3))], bad, on_item=seen.append) is False
    assert bad.counts["failed"] == 2 and [f.item for f in bad.failures] == ["in:2", "in:3"]
    assert seen[1:] == bad.failures
    assert app.store.articles.get("a3") is None  # one transaction: all or nothing
    dry = BatchResult()  # a dry run stores nothing, so nothing can refuse it
    assert store_batch(app, [("in:2", art(2))], dry, dry_run=True) is True
    assert dry.counts["added"] == 1 and app.store.articles.get("a2") is None


def test_the_run_is_recorded_with_its_source_counts_and_times(app: App, clock: FixedClock) -> None:
    def slow(_: ItemResult) -> None:
        clock.advance(60)  # each item takes a minute on the app's clock

    items = [*labelled(1, 2), ("in:3", IngestError("in:3: bad date"))]
    ingest_items(app, items, source="crawl:tin-tuc", on_item=slow)
    run = app.store.articles.recent_runs(1)[0]
    assert run["source"] == "crawl:tin-tuc"
    assert (run["added"], run["updated"], run["unchanged"], run["failed"]) == (2, 0, 0, 1)
    assert run["started_at"] < run["finished_at"]
    assert run["started_at"].startswith(FIXED_NOW.strftime("%Y-%m-%dT%H:%M"))
    later = FIXED_NOW + timedelta(minutes=3)
    assert run["finished_at"].startswith(later.strftime("%Y-%m-%dT%H:%M"))
    (failure,) = app.store.articles.recent_failures()
    assert failure["source"] == "crawl:tin-tuc" and failure["item"] == "in:3"


def test_a_run_that_cannot_be_recorded_keeps_its_stored_items(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """The record is written after the items: its failure is logged, never raised."""
    caplog.set_level(logging.WARNING, logger="tgfeed.jobs.ingest")
    app.store.db.conn.execute(
        "CREATE TRIGGER no_runs BEFORE INSERT ON ingest_runs "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    result = ingest_items(app, labelled(1), source="api")
    assert result.counts["added"] == 1
    assert app.store.articles.get("a1") is not None
    assert app.store.articles.recent_runs() == []
    assert "the api run was not recorded" in caplog.text


def test_a_dry_run_reports_each_item_and_records_no_run(app: App) -> None:
    ingest_items(app, labelled(1, 2), source="test")
    seen: list[ItemResult] = []
    items = [("new:1", art(1, "Đổi tên")), ("new:2", art(2)), ("new:3", art(3))]
    dry = ingest_items(app, items, source="test", on_item=seen.append, dry_run=True)
    assert seen == [
        ItemResult("new:1", "updated", "a1", "dry run"),
        ItemResult("new:2", "unchanged", "a2", "dry run"),
        ItemResult("new:3", "added", "a3", "dry run"),
    ]
    assert dry.counts == {"added": 1, "updated": 1, "unchanged": 1, "failed": 0}
    assert app.store.articles.get("a3") is None
    assert len(app.store.articles.recent_runs()) == 1


def test_a_lazy_source_is_read_in_batches(app: App) -> None:
    """Items are pulled a batch at a time: a stream of any length never sits in memory."""
    pulled = 0

    def stream() -> Iterator[tuple[str, Article | IngestError]]:
        nonlocal pulled
        for n in range(1, BATCH + 2):
            pulled = n
            yield f"in:{n}", art(n)

    stored_when_pulled: list[int] = []

    def watch(item: ItemResult) -> None:
        if item.item == "in:1":
            stored_when_pulled.append(pulled)

    result = ingest_items(app, stream(), source="test", on_item=watch)
    assert result.counts["added"] == BATCH + 1
    assert stored_when_pulled == [BATCH]  # the first batch is stored before item 501 is read


def test_export_writes_one_line_per_article_and_returns_the_count(app: App) -> None:
    out = io.StringIO()
    assert export_jsonl(app, out) == 0 and out.getvalue() == ""
    ingest_items(app, labelled(2, 1, 3), source="test")
    out = io.StringIO()
    assert export_jsonl(app, out) == 3
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\n") == 3
    assert sorted(json.loads(line)["id"] for line in text.splitlines()) == ["a1", "a2", "a3"]

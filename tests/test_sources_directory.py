"""Directory sources: a drop folder, each file ingested once unless it changes."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from tgfeed.app import App
from tgfeed.jobs.crawl import crawl, source_states

from .conftest import FIXTURES


def record(n: int, title: str) -> str:
    return json.dumps(
        {
            "url": f"https://tuyengiaohungyen.vn/bai-viet/tin-tha-vao-{n}.aspx",
            "title": title,
            "category": ["Thông tin - Tuyên truyền", "Tin tức hoạt động"],
            "published": "2026-11-24T08:15:00+07:00",
            "body_text": f"Nội dung bài {n}.",
        },
        ensure_ascii=False,
    )


SOURCE = '\n[[sources]]\nname = "tha-vao"\nkind = "directory"\npath = "drop"\n'


def test_dropped_files_are_ingested_once_unless_changed(
    tmp_path: Path, app_factory: Callable[..., App]
) -> None:
    drop = tmp_path / "drop"
    (drop / "thang-11").mkdir(parents=True)
    shutil.copy(FIXTURES / "pages" / "html_basic.html", drop / "thang-11" / "hoi-nghi.html")
    shutil.copy(FIXTURES / "pages" / "text_basic.txt", drop / "bai.txt")
    (drop / "lo.jsonl").write_text(record(1, "Bài một") + "\n{not json\n", encoding="utf-8")
    (drop / ".dang-ghi.jsonl").write_text(record(9, "Đang ghi"), encoding="utf-8")
    (drop / "dang-tai.jsonl.part").write_text(record(8, "Đang tải"), encoding="utf-8")
    app = app_factory(SOURCE)

    first = asyncio.run(crawl(app))["tha-vao"]
    assert first.counts == {"added": 3, "updated": 0, "unchanged": 0, "failed": 1}
    assert "lo.jsonl:2: not valid JSON" in (first.failures[0].reason or "")
    assert app.store.articles.count() == 3

    # Nothing new: nothing is read again (and nothing is a failure again).
    second = asyncio.run(crawl(app))["tha-vao"]
    assert second.counts == {"added": 0, "updated": 0, "unchanged": 0, "failed": 0}

    # A changed file is read again; a finished upload (renamed) is picked up.
    (drop / "lo.jsonl").write_text(
        record(1, "Bài một (sửa)") + "\n" + record(2, "Bài hai") + "\n", encoding="utf-8"
    )
    (drop / "dang-tai.jsonl.part").rename(drop / "dang-tai.jsonl")
    third = asyncio.run(crawl(app))["tha-vao"]
    assert third.counts == {"added": 2, "updated": 1, "unchanged": 0, "failed": 0}
    titles = {a.title for a in app.store.articles.latest(limit=50)}
    assert {"Bài một (sửa)", "Bài hai", "Đang tải"} <= titles
    assert "Đang ghi" not in titles
    (state,) = source_states(app)
    assert state.consecutive_failures == 0 and state.last_counts is not None
    assert state.last_counts["files"] == 2


def test_missing_folder_is_a_source_failure(app_factory: Callable[..., App]) -> None:
    app = app_factory(SOURCE)
    result = asyncio.run(crawl(app))["tha-vao"]
    assert result.counts["failed"] == 1
    assert "drop folder does not exist" in (result.failures[0].reason or "")
    (state,) = source_states(app)
    assert state.consecutive_failures == 1

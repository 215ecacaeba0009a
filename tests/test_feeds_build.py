"""`tgfeed build`: atomic writes of changed bytes only, removal of vanished
feeds, the no-change fast path, dry runs, the CLI and the demo step."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from tests.feeds_support import check_atom, check_json, check_rss
from tgfeed.app import App
from tgfeed.cli import cli
from tgfeed.cli.demo import DEMO_STEPS
from tgfeed.cli.feeds import demo_feeds
from tgfeed.feeds.publish import Publisher
from tgfeed.jobs.feeds import MANIFEST, atomic_write, build_feeds


def snapshot(out: Path) -> dict[str, tuple[int, bytes]]:
    """Every file (but the manifest) with its mtime_ns and bytes."""
    return {
        p.relative_to(out).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def feed_files(out: Path) -> set[str]:
    return {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p.suffix in (".rss", ".atom", ".json") and p.name != MANIFEST
    }


def test_full_build_writes_every_feed_opml_and_index(sample_app: App) -> None:
    result = build_feeds(sample_app)
    out = result.output_dir
    assert out == sample_app.path(sample_app.config.feeds.output_dir)
    listed = Publisher(sample_app).listing()
    assert result.feeds == len(listed) >= 10
    assert result.written == 3 * result.feeds + 2 and result.unchanged == 0
    assert result.removed == 0 and result.failures == ()
    expected = {e.spec.path(fmt).lstrip("/") for e in listed for fmt in ("rss", "atom", "json")}
    assert feed_files(out) == expected
    assert (out / "feeds.opml").is_file() and (out / "index.html").is_file()
    for rel in expected:
        data = (out / rel).read_bytes()
        {"rss": check_rss, "atom": check_atom, "json": check_json}[rel.rsplit(".", 1)[1]](data)
    # Temp files never stay behind; files are world-readable for nginx.
    assert not [p for p in out.rglob("*.tmp")]
    mode = stat.S_IMODE((out / "feeds" / "all.rss").stat().st_mode)
    assert mode == 0o644
    # The static index links every feed with autodiscovery for the all-feed.
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'rel="alternate" type="application/rss+xml"' in index
    assert 'href="/feeds/all.rss"' in index and "/feeds.opml" in index
    assert "<form" not in index  # search needs the server; the static page has none


def test_unchanged_rebuild_rewrites_nothing(sample_app: App) -> None:
    first = build_feeds(sample_app)
    before = snapshot(first.output_dir)
    again = build_feeds(sample_app)
    assert again.written == 0 and again.removed == 0
    assert again.unchanged == first.written
    assert again.rendered == 0  # fast path: same store version, nothing rendered
    assert snapshot(first.output_dir) == before  # same bytes, same mtimes


def test_a_new_article_re_renders_only_the_feeds_it_is_in(sample_app: App) -> None:
    first = build_feeds(sample_app)
    before = snapshot(first.output_dir)
    newest = sample_app.store.articles.latest("thong-bao", 1)[0]
    fresh = dataclasses.replace(
        newest,
        id="tag:tuyengiaohungyen.vn,2018:bai-viet/9999",
        url="https://tuyengiaohungyen.vn/bai-viet/thong-bao-moi-9999.aspx",
        title="Thông báo mới",
        published_at=newest.published_at + timedelta(days=1),
    )
    sample_app.store.articles.upsert([fresh], now=sample_app.now())
    result = build_feeds(sample_app)
    # The all-feed and "Thông báo" changed (3 formats each), plus index and OPML.
    assert result.rendered == 2
    assert sorted(result.written_paths) == sorted(
        [f"feeds/{k}.{f}" for k in ("all", "thong-bao") for f in ("rss", "atom", "json")]
        + ["feeds.opml", "index.html"]
    )
    after = snapshot(first.output_dir)
    # A file's .gz sibling changes with it, and only with it.
    untouched = [rel for rel in before if rel.removesuffix(".gz") not in result.written_paths]
    assert untouched and all(after[rel] == before[rel] for rel in untouched)
    parsed = feedparser.parse((first.output_dir / "feeds/thong-bao.rss").read_bytes())
    assert parsed.entries[0].id == fresh.id and parsed.entries[0].title == "Thông báo mới"


def test_unpublished_article_leaves_every_feed(sample_app: App) -> None:
    build_feeds(sample_app)
    gone = sample_app.store.articles.latest("thong-tin-tuyen-truyen/tin-tuc-hoat-dong", 1)[0]
    out = sample_app.path(sample_app.config.feeds.output_dir)
    assert gone.id.encode() in (out / "feeds/all.atom").read_bytes()
    assert sample_app.store.articles.unpublish(gone.id, now=sample_app.now())
    build_feeds(sample_app)
    for rel in feed_files(out):
        assert gone.id.encode() not in (out / rel).read_bytes(), rel


def test_feeds_of_a_vanished_category_are_removed(sample_app: App) -> None:
    result = build_feeds(sample_app)
    out = result.output_dir
    moved = [
        dataclasses.replace(a, category=("Thông báo",), category_slugs=None)
        for a in sample_app.store.articles.latest("xay-dung-dang", 100)
    ]
    assert moved
    sample_app.store.articles.upsert(moved, now=sample_app.now())
    again = build_feeds(sample_app)
    removed = {
        f"feeds/{k}.{f}"
        for k in (
            "xay-dung-dang",
            "xay-dung-dang/hoc-tap-va-lam-theo-bac",
            "xay-dung-dang/bao-ve-nen-tang-tu-tuong-cua-dang",
        )
        for f in ("rss", "atom", "json")
    }
    assert set(again.removed_paths) == removed and again.removed == 9
    assert not (out / "feeds" / "xay-dung-dang").exists()  # the empty folder went too
    assert not feed_files(out) & removed
    assert "xay-dung-dang" not in (out / "feeds.opml").read_text(encoding="utf-8")


def test_configured_category_without_articles_keeps_an_empty_feed(
    app_factory: Callable[..., App],
) -> None:
    app = app_factory('[[categories]]\npath = ["Thông báo", "Thông báo khẩn"]\n', samples=True)
    build_feeds(app)
    out = app.path(app.config.feeds.output_dir)
    data = (out / "feeds/thong-bao/thong-bao-khan.rss").read_bytes()
    root = check_rss(data)
    assert root.findall("channel/item") == []


def test_dry_run_writes_nothing(sample_app: App) -> None:
    out = sample_app.path(sample_app.config.feeds.output_dir)
    result = build_feeds(sample_app, dry_run=True)
    assert result.dry_run and result.written == 3 * result.feeds + 2
    assert not out.exists()
    build_feeds(sample_app)
    before = snapshot(out)
    (out / "feeds" / "orphan.rss").write_text("old", encoding="utf-8")
    result = build_feeds(sample_app, dry_run=True)
    assert result.removed_paths == ("feeds/orphan.rss",) and result.written == 0
    assert (out / "feeds" / "orphan.rss").exists()
    assert {k: v for k, v in snapshot(out).items() if k != "feeds/orphan.rss"} == before


def test_a_file_changed_by_hand_is_restored(sample_app: App) -> None:
    result = build_feeds(sample_app)
    target = result.output_dir / "feeds" / "thong-bao.json"
    good = target.read_bytes()
    target.write_bytes(b"{}")
    again = build_feeds(sample_app)
    assert again.written_paths == ("feeds/thong-bao.json",)
    assert target.read_bytes() == good


def test_served_and_built_bytes_are_the_same(sample_app: App) -> None:
    out = build_feeds(sample_app).output_dir
    pub = Publisher(sample_app)
    for key in ("all", "chinh-tri-xa-hoi/tin-tuc-trong-tinh"):
        for fmt in ("rss", "atom", "json"):
            served = pub.feed(key, fmt)
            assert served is not None
            assert served.body == (out / f"feeds/{key}.{fmt}").read_bytes()
    assert pub.opml().body == (out / "feeds.opml").read_bytes()


def test_output_folder_that_cannot_be_created_is_one_clear_error(
    sample_app: App, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder", encoding="utf-8")
    from tgfeed.errors import TgfeedError

    with pytest.raises(TgfeedError, match="cannot create the output folder"):
        build_feeds(sample_app, blocker / "public")


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "a.rss"
    atomic_write(target, b"old")

    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.rss"]


def test_cli_build_prints_counts(sample_app: App, tmp_path: Path) -> None:
    config = sample_app.config.source_path
    assert config is not None
    runner = CliRunner()
    out = tmp_path / "site"
    first = runner.invoke(cli, ["--config", str(config), "build", "--output", str(out), "-q"])
    assert first.exit_code == 0, first.output
    m = re.match(r"(\d+) written, 0 unchanged, 0 removed \((\d+) feeds × 3 formats", first.output)
    assert m and int(m[1]) == 3 * int(m[2]) + 2, first.output
    assert (out / "feeds" / "all.rss").is_file()
    again = runner.invoke(cli, ["--config", str(config), "build", "--output", str(out)])
    assert again.exit_code == 0, again.output
    assert again.output.startswith("0 written, ") and " 0 removed" in again.output
    dry = runner.invoke(cli, ["--config", str(config), "build", "--dry-run"])
    assert dry.exit_code == 0 and "would be written" in dry.output
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["version"] == sample_app.store.articles.version


def test_demo_step_builds_feeds_and_prints_urls(
    sample_app: App, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo_feeds in DEMO_STEPS
    demo_feeds(sample_app)
    printed = capsys.readouterr().out
    assert "http://127.0.0.1:8080/feeds/all.rss" in printed
    assert "http://127.0.0.1:8080/feeds.opml" in printed
    out = sample_app.path(sample_app.config.feeds.output_dir)
    assert (out / "feeds" / "all.atom").is_file()

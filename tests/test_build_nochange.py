"""`tgfeed build` with nothing changed answers from the manifest's ``fast`` record
before any heavy module loads (``tgfeed.nochange``), prints what the full build
prints, and never does so when the build would change something: each of those
changes below makes the check say no, and the build that follows writes the change.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import tgfeed
from tgfeed.app import App, build_app
from tgfeed.cli import cli, main
from tgfeed.defaults import package_templates
from tgfeed.jobs.feeds import build_feeds
from tgfeed.jobs.ingest import import_paths
from tgfeed.loader import load
from tgfeed.nochange import FAST, MANIFEST, fast_build, unchanged_line

from .conftest import FIXED_NOW, SAMPLES, FixedClock

SRC = str(Path(tgfeed.__file__).resolve().parents[1])
LATER = FIXED_NOW + timedelta(minutes=5)
HEAVY = ("pydantic", "sqlite_utils", "feedgen", "jinja2", "click", "rich", "tgfeed.app")


def write(tmp_path: Path, top: str = "", extra: str = "") -> Path:
    """The config: its store and output under tmp_path (``top``: top-level keys)."""
    path = tmp_path / "config.toml"
    path.write_text(
        top + '[store]\npath = "data/tgfeed.db"\n[feeds]\noutput_dir = "public"\n'
        '[mail]\noutbox_dir = "outbox"\n' + extra,
        encoding="utf-8",
    )
    return path


class Site:
    """A config file, its store with the sample articles, and builds of it."""

    def __init__(self, tmp_path: Path, clock: FixedClock) -> None:
        self.dir = tmp_path
        self.clock = clock
        self.config = write(tmp_path)
        self.public = tmp_path / "public"
        self.app = self.open()
        assert import_paths(self.app, [SAMPLES]).count("failed") == 0

    def open(self) -> App:
        return build_app(load(self.config), clock=self.clock)

    def reopen(self) -> None:
        self.app.close()
        self.app = self.open()

    def build(self) -> tuple[int, int]:
        """A full build (no fast path): (written, removed)."""
        r = build_feeds(self.app)
        assert not r.failures, r.failures
        return r.written, r.removed

    def line(self, *flags: str, now: datetime = LATER) -> str | None:
        return unchanged_line(["--config", str(self.config), "build", *flags], now=now)

    def full_output(self) -> str:
        """What the full path prints for `tgfeed build` (click, no fast path)."""
        r = CliRunner().invoke(cli, ["--config", str(self.config), "build"])
        assert r.exit_code == 0, r.output
        return r.output

    def manifest(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.public / MANIFEST).read_text("utf-8"))
        return data


@pytest.fixture
def site(tmp_path: Path, clock: FixedClock) -> Iterator[Site]:
    s = Site(tmp_path, clock)
    s.build()
    yield s
    s.app.close()


def test_nothing_changed_gives_the_full_builds_line(site: Site) -> None:
    line = site.line()
    assert line is not None and line.startswith("0 written, ")
    assert site.full_output() == line + "\n"  # the full path, which found nothing changed
    assert site.line("-q") == site.line("--list") == line
    # the output folder may be served whole: the record names no path of the machine
    record = json.dumps(site.manifest()[FAST])
    assert str(site.dir) not in record and "config.toml" not in record


def python(
    code: str, *args: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``python -c code args…`` in a fresh interpreter, its output captured."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_fresh_process_answers_without_loading_any_heavy_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The defaults (no config file, paths under the working directory) in real
    processes: import, a first build, then the one that changes nothing."""
    wrapper = (
        "import json, sys\nfrom tgfeed.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
        'print("@@" + json.dumps({"code": code, "modules": sorted(sys.modules)}))\n'
    )
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "200"}
    env.pop("TGFEED_CONFIG", None)

    def run(*args: str) -> tuple[str, set[str]]:
        r = python(wrapper, *args, cwd=tmp_path, env=env)
        out, _, tail = r.stdout.rpartition("@@")
        report = json.loads(tail)
        assert report["code"] in (0, None), r.stderr
        return out, set(report["modules"])

    run("import", "-q", str(SAMPLES))
    first, modules = run("build")
    assert not first.startswith("0 written, ")
    assert "pydantic" in modules and "feedgen" in modules  # a real build
    assert "numpy" not in modules and "pandas" not in modules  # (store.lib)
    out, modules = run("build")
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY)
    assert loaded == []
    public = (tmp_path / "tgfeed-data" / "public").resolve()
    assert out.startswith("0 written, ") and out.endswith(f"0 rendered) in {public}\n")
    # the same line as the full path prints (click's runner never takes the fast path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TGFEED_CONFIG", raising=False)
    r = CliRunner().invoke(cli, ["build"])
    assert r.exit_code == 0 and r.output == out


def test_the_config_found_as_the_loader_finds_it(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$TGFEED_CONFIG, or a --config relative to the working directory."""
    want = site.line()
    assert want is not None
    monkeypatch.setenv("TGFEED_CONFIG", str(site.config))
    assert unchanged_line(["build"], now=LATER) == want
    monkeypatch.setenv("TGFEED_CONFIG", str(tmp_path / "missing.toml"))
    assert unchanged_line(["build"], now=LATER) is None  # the loader says: not found
    monkeypatch.delenv("TGFEED_CONFIG")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert unchanged_line(["--config", "../config.toml", "build"], now=LATER) == want
    assert unchanged_line(["build"], now=LATER) is None  # the defaults: another folder


def test_main_prints_the_line_and_exits_0(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(site.config), "build"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == site.full_output()


# -- every change makes it look again, and the build then writes it ------------------


def test_an_article_added(site: Site, tmp_path: Path) -> None:
    first = json.loads(SAMPLES.read_text("utf-8").splitlines()[0])
    new = {
        **first,
        "id": first["id"] + "-moi",
        "url": first["url"].replace(".aspx", "-moi.aspx"),
        "title": "Bài mới hoàn toàn về đê điều",
        "published": "2026-11-29T08:00:00+07:00",
    }
    extra = tmp_path / "new.jsonl"
    extra.write_text(json.dumps(new, ensure_ascii=False) + "\n", encoding="utf-8")
    assert import_paths(site.app, [extra]).count("added") == 1
    assert site.line() is None
    written, _ = site.build()
    assert written > 0
    assert "Bài mới hoàn toàn về đê điều" in (site.public / "feeds/all.rss").read_text("utf-8")
    assert site.line() is not None


def test_an_article_retracted_and_its_tombstone_expiring(site: Site) -> None:
    victim = site.app.store.articles.latest(None, 1)[0]
    site.app.store.feeds.retract(victim.id, now=site.app.now(), reason=None, origin="cli")
    assert site.line() is None
    site.build()
    atom = (site.public / "feeds/all.atom").read_text("utf-8")
    assert f'ref="{victim.id}"' in atom
    # 30 days ([feeds] tombstone_days): still the same output just before, not after
    days = site.app.config.feeds.tombstone_days
    assert site.line(now=FIXED_NOW + timedelta(days=days) - timedelta(minutes=1)) is not None
    gone = FIXED_NOW + timedelta(days=days, minutes=1)
    assert site.line(now=gone) is None
    site.clock.value = gone
    written, _ = site.build()
    assert written > 0
    assert f'ref="{victim.id}"' not in (site.public / "feeds/all.atom").read_text("utf-8")
    assert site.line(now=gone + timedelta(minutes=1)) is not None


def test_a_clock_before_the_build(site: Site) -> None:
    assert site.line(now=FIXED_NOW - timedelta(seconds=1)) is None


def test_the_config_edited(site: Site) -> None:
    text = site.config.read_text("utf-8")
    site.config.write_text(text + '[site]\ntitle = "Trang tin Thử nghiệm"\n', encoding="utf-8")
    assert site.line() is None
    site.reopen()
    written, _ = site.build()
    assert written > 0
    assert "Trang tin Thử nghiệm" in (site.public / "feeds/all.rss").read_text("utf-8")
    assert site.line() is not None


def test_a_comment_in_the_config_costs_one_build_that_writes_nothing(site: Site) -> None:
    site.config.write_text(site.config.read_text("utf-8") + "# ghi chú\n", encoding="utf-8")
    assert site.line() is None
    site.reopen()
    assert site.build() == (0, 0)
    assert site.line() is not None


def test_a_template_override_added_then_edited(site: Site) -> None:
    text = site.config.read_text("utf-8")
    site.config.write_text('templates_dir = "tpl"\n' + text, encoding="utf-8")
    tpl = site.dir / "tpl"
    tpl.mkdir()
    site.reopen()
    site.build()
    assert site.line() is not None  # an empty override folder changes nothing
    packaged = (package_templates() / "index.html.j2").read_text("utf-8")
    assert "<h1>" in packaged
    mine = packaged.replace("<h1>", "<h1>bản riêng @ · ", 1)
    (tpl / "index.html.j2").write_text(mine.replace("@", "1"), encoding="utf-8")
    assert site.line() is None
    site.build()
    assert "bản riêng 1" in (site.public / "index.html").read_text("utf-8")
    assert site.line() is not None
    (tpl / "index.html.j2").write_text(mine.replace("@", "2"), encoding="utf-8")
    assert site.line() is None
    site.build()
    assert "bản riêng 2" in (site.public / "index.html").read_text("utf-8")


@pytest.mark.parametrize("rel", ["feeds/all.rss", "feeds/all.rss.gz", "index.html"])
def test_an_output_file_deleted_or_modified(site: Site, rel: str) -> None:
    path = site.public / rel
    good = path.read_bytes()
    path.unlink()
    assert site.line() is None
    site.build()
    assert path.read_bytes() == good
    path.write_bytes(good[:-1] + b" ")
    assert site.line() is None
    site.build()
    assert path.read_bytes() == good
    assert site.line() is not None


def test_a_stray_feed_or_a_temp_file(site: Site) -> None:
    stray = site.public / "feeds" / "khong-con.rss"
    stray.write_bytes(b"<rss/>")
    assert site.line() is None
    assert site.build()[1] == 1 and not stray.exists()
    temp = site.public / "feeds" / ".all.rss.999999-1.tmp"
    temp.write_bytes(b"half")
    assert site.line() is None
    site.build()
    assert not temp.exists() and site.line() is not None


def test_a_failed_build(site: Site) -> None:
    index = site.public / "index.html"
    index.unlink()
    index.mkdir()  # cannot be replaced by a file
    r = build_feeds(site.app)
    assert [rel for rel, _ in r.failures] == ["index.html"]
    assert site.manifest()["version"] is None and site.manifest()[FAST] is None
    index.rmdir()
    assert site.line() is None
    site.build()
    assert index.is_file() and site.line() is not None


def test_other_flags_and_command_lines_take_the_normal_path(site: Site, tmp_path: Path) -> None:
    cfg = str(site.config)
    for argv in (
        [*("--config", cfg), "build", "--dry-run"],
        [*("--config", cfg), "build", "--output", str(tmp_path / "other")],
        [*("--config", cfg), "-v", "build"],
        [*("--config", cfg), "build", "--help"],
        [*("--config", cfg), "status"],
        ["--config", str(tmp_path / "missing.toml"), "build"],
    ):
        assert unchanged_line(argv, now=LATER) is None, argv
        assert fast_build(argv) is False
    assert unchanged_line([f"--config={cfg}", "build"], now=LATER) is not None


def test_dry_run_is_the_full_builds_report(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(site.config), "build", "--dry-run"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("0 would be written, ")


def test_output_elsewhere_is_a_real_build(site: Site, tmp_path: Path) -> None:
    other = tmp_path / "other"
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(site.config), "build", "-q", "--output", str(other)])
    assert exc.value.code == 0
    assert (other / "feeds/all.rss").read_bytes() == (site.public / "feeds/all.rss").read_bytes()


def test_a_hub_to_notify_takes_the_normal_path(site: Site) -> None:
    text = site.config.read_text("utf-8").replace(
        "[feeds]\n", '[feeds]\nhub = "http://127.0.0.1:9/hub"\n'
    )
    site.config.write_text(text, encoding="utf-8")
    site.reopen()
    build_feeds(site.app)
    assert site.manifest()[FAST] is None and site.line() is None


def test_a_store_missing_a_migration(site: Site) -> None:
    db = site.dir / "data" / "tgfeed.db"
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm001_inbox_log'")
    conn.close()
    assert site.line() is None


def test_another_store_at_the_same_path(site: Site) -> None:
    db = site.dir / "data" / "tgfeed.db"
    site.app.close()
    for p in db.parent.iterdir():
        p.unlink()
    assert site.line() is None  # no store at all
    site.app = site.open()  # an empty store: version 0
    assert site.line() is None
    shutil.rmtree(site.public)
    assert site.line() is None


def test_opening_the_store_imports_neither_numpy_nor_pandas(tmp_path: Path) -> None:
    """sqlite-utils would import them when installed (``store.lib`` hides them)."""
    pytest.importorskip("numpy")
    config = write(tmp_path)
    code = (
        "import sys\nfrom tgfeed.cli import main\n"
        f"try:\n    main(['--config', {str(config)!r}, 'import', '-q', {str(SAMPLES)!r}])\n"
        "except SystemExit as e:\n    assert e.code == 0\n"
        "assert 'sqlite_utils' in sys.modules\n"
        "print(sorted(m for m in ('numpy', 'pandas') if m in sys.modules))\n"
        "import numpy\nprint(numpy.__name__)\n"
    )
    r = python(code, cwd=tmp_path, env={**os.environ, "PYTHONPATH": SRC})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-2:] == ["[]", "numpy"]  # and importable afterwards


def test_a_check_that_breaks_runs_the_full_command(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tgfeed.nochange as nochange

    def broken() -> str:
        raise RuntimeError("no templates")

    monkeypatch.setattr(nochange, "code_key", broken)
    assert fast_build(["--config", str(site.config), "build"]) is False

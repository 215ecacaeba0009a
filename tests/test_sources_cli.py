"""`tgfeed crawl` and `tgfeed sources`, run as a subprocess against the fixture site."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import write_config
from .fixture_site import FixtureSite, article_html, listing_html


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("TGFEED_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "tgfeed", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_crawl_and_sources_commands(tmp_path: Path) -> None:
    with FixtureSite() as site:
        site.add(
            "/tin.aspx",
            listing_html("Tin", [("/bai-viet/a-1.aspx", "A"), ("/bai-viet/b-2.aspx", "B")]),
        )
        site.add("/bai-viet/a-1.aspx", article_html("Hội nghị báo cáo viên tháng 11"))
        write_config(
            tmp_path,
            f'\n[[sources]]\nname = "web"\nkind = "site"\nlisting_urls = ["{site.url}/tin.aspx"]\n'
            "allow_private = true\ndelay = 0\nretries = 0\n"
            f'\n[[sources]]\nname = "tat"\nkind = "feed"\nurl = "{site.url}/rss"\n'
            "enabled = false\nallow_private = true\n",
        )
        dry = run("crawl", "--dry-run", cwd=tmp_path)
        assert "dry run: web: 1 added, 0 updated, 0 unchanged, 1 failed" in dry.stdout, dry.stderr
        assert dry.returncode == 1
        r = run("crawl", cwd=tmp_path)
        assert r.returncode == 1  # b-2 is a 404
        assert "web: 1 added, 0 updated, 0 unchanged, 1 failed" in r.stdout
        assert "b-2.aspx: HTTP 404" in r.stdout
        assert "tat" not in r.stdout  # disabled sources are not run

        site.add("/tin.aspx", listing_html("Tin", [("/bai-viet/a-1.aspx", "A")]))
        r = run("crawl", "web", cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "web: 0 added, 0 updated, 1 unchanged, 0 failed" in r.stdout

        r = run("crawl", "khong-co", cwd=tmp_path)
        assert r.returncode == 1
        assert "no source named 'khong-co' (sources: web, tat)" in r.stderr

        r = run("sources", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "web" in r.stdout and "site" in r.stdout and "1 unchanged" in r.stdout
        assert "tat (disabled)" in r.stdout and "never" in r.stdout

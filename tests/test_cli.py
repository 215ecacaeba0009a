"""The real command line, run as a subprocess against real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from tgfeed.cli import cli
from tgfeed.cli.lazy import load_all

from .conftest import FIXTURES, SAMPLES, write_config

ROOT = Path(__file__).resolve().parents[1]


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    full_env.pop("TGFEED_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "tgfeed", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def test_import_reports_each_file_and_fails_on_bad_items(tmp_path: Path) -> None:
    write_config(tmp_path)
    pages = FIXTURES / "pages"
    r = run(
        "import", str(pages / "text_basic.txt"), str(pages / "broken_no_date.txt"), cwd=tmp_path
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "added" in r.stdout and "text_basic.txt" in r.stdout
    assert "failed" in r.stdout and "Đăng ngày" in r.stdout
    assert "1 added, 0 updated, 0 unchanged, 1 failed" in r.stdout
    again = run("import", str(pages / "text_basic.txt"), cwd=tmp_path)
    assert again.returncode == 0
    assert "0 added, 0 updated, 1 unchanged, 0 failed" in again.stdout


def test_export_search_and_categories(tmp_path: Path) -> None:
    write_config(tmp_path)
    assert run("import", "-q", str(SAMPLES), cwd=tmp_path).returncode == 0
    r = run("export", cwd=tmp_path)
    lines = r.stdout.splitlines()
    assert len(lines) == len(SAMPLES.read_text(encoding="utf-8").splitlines())
    assert json.loads(lines[0])["published"].endswith("+07:00")
    r = run("search", "hoi nghi giao ban", cwd=tmp_path)
    assert r.returncode == 0 and "giao ban" in r.stdout.lower()
    r = run("categories", cwd=tmp_path)
    assert "thong-tin-tuyen-truyen" in r.stdout


def test_check_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[site]\nurl = "nope"\n[schedule.jobs.d]\nkind = "send_digest"\ncron = "0 25 * * *"\n',
        encoding="utf-8",
    )
    r = run("check", cwd=tmp_path)
    assert r.returncode == 1
    assert "site.url" in r.stderr and "schedule.jobs.d.cron" in r.stderr
    assert "Traceback" not in r.stderr


def test_check_ok_on_the_example(tmp_path: Path) -> None:
    env = {"TGFEED_API_TOKEN": "a", "TGFEED_ADMIN_TOKEN": "b"}
    r = run("--config", str(ROOT / "config.example.toml"), "check", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok" in r.stdout


def test_unknown_path_is_one_line(tmp_path: Path) -> None:
    r = run("--config", str(tmp_path / "missing.toml"), "check", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and "config file not found" in r.stderr


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    def walk(group: click.Group, prefix: str) -> list[str]:
        names = []
        for name, cmd in load_all(group).items():
            names.append(f"{prefix}{name}")
            if isinstance(cmd, click.Group):
                names += walk(cmd, f"{prefix}{name} ")
        return names

    missing = [n for n in walk(cli, "tgfeed ") if n not in readme]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_command_has_help() -> None:
    """Each command and subcommand prints its usage (in-process: a fresh process per
    command is test_cli_lazy's concern)."""

    def walk(group: click.Group, path: list[str]) -> list[list[str]]:
        found = []
        for name, cmd in load_all(group).items():
            found.append([*path, name])
            if isinstance(cmd, click.Group):
                found += walk(cmd, [*path, name])
        return found

    runner = CliRunner()
    commands = walk(cli, [])
    assert len(commands) > 20
    for words in commands:
        r = runner.invoke(cli, [*words, "--help"])
        assert r.exit_code == 0 and "Usage: " in r.output and r.exception is None, words

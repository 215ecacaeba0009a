"""The CLI as logs and cron mail see it: stdout piped (not a terminal), 80 columns.
Full values in tables, local times with their offset, --json that parses, silent
progress, dry runs not recorded, one-line errors with exit 1."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from .admin_support import PASSWORD
from .conftest import SAMPLES, write_config

LONG = "ban.tuyen.giao.huyen.uy.van.lam.tinh.hung.yen@example-rat-dai.gov.vn"


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("TGFEED_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "tgfeed", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=120,
        check=False,
    )


def test_subscribers_list_prints_whole_addresses_and_valid_json(tmp_path: Path) -> None:
    write_config(tmp_path)
    assert (
        run(
            "subscribers",
            "add",
            LONG,
            "--name",
            "Nguyễn Thị Thanh Thủy Hương",
            "--unit",
            "Ban Tuyên giáo Huyện ủy Văn Lâm",
            "--active",
            cwd=tmp_path,
        ).returncode
        == 0
    )
    r = run("subscribers", "list", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.splitlines()[:2]
    assert header.split() == ["email", "tên", "đơn", "vị", "trạng", "thái", "nguồn", "từ"]
    assert row.startswith(LONG + "  Nguyễn Thị Thanh Thủy Hương  Ban Tuyên giáo Huyện ủy Văn Lâm")
    assert "…" not in r.stdout and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d\+07:00", row)
    data = json.loads(run("subscribers", "list", "--json", cwd=tmp_path).stdout)
    assert data[0]["email"] == LONG and data[0]["created_at"].endswith("+07:00")


def test_status_and_jobs_show_local_times_with_offsets(tmp_path: Path) -> None:
    write_config(tmp_path)
    assert run("run", "build_feeds", cwd=tmp_path).returncode == 0
    r = run("status", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    stamps = re.findall(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d)?(?:[+-]\d\d:\d\d|Z)?", r.stdout)
    assert stamps and all(s.endswith("+07:00") for s in stamps), stamps
    assert "…" not in r.stdout
    status = json.loads(run("status", "--json", cwd=tmp_path).stdout)
    assert status["now"].endswith("+07:00")
    jobs = json.loads(run("jobs", "--json", cwd=tmp_path).stdout)
    assert all(t.endswith("+07:00") for j in jobs for t in j["next"])
    table = run("jobs", cwd=tmp_path).stdout
    assert re.search(r"weekly_digest .*cron 0 7 \* \* mon .*\d\d:\d\d\+07:00", table)


def test_a_dry_run_is_never_recorded_as_a_run(tmp_path: Path) -> None:
    write_config(tmp_path)
    assert run("import", str(SAMPLES), cwd=tmp_path).returncode == 0
    r = run("run", "weekly_digest", "--dry-run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("weekly_digest ok (dry run, not recorded): ")
    assert "{" not in r.stdout  # words, not raw JSON
    out = json.loads(run("run", "build_feeds", "--dry-run", "--json", cwd=tmp_path).stdout)
    assert out["recorded"] is False and out["outcome"] == "ok"
    status = json.loads(run("status", "--json", cwd=tmp_path).stdout)
    assert status["recent_runs"] == []
    assert all(j["last"] is None for j in status["schedule"]["jobs"])


def test_import_progress_is_silent_when_piped(tmp_path: Path) -> None:
    write_config(tmp_path)
    r = run("import", str(SAMPLES), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"\d+ added, 0 updated, 0 unchanged, 0 failed\n", r.stdout)
    assert r.stderr == ""
    built = run("build", cwd=tmp_path)
    assert built.stdout.count("\n") == 1 and " written, " in built.stdout  # one summary line


def test_bad_paths_and_arguments_are_one_line_and_exit_1(tmp_path: Path) -> None:
    write_config(tmp_path)
    r = run("import", "missing.jsonl", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "error: Invalid value for 'PATHS...': Path 'missing.jsonl' does not exist.",
        "hint: `tgfeed import --help` lists the arguments and options",
    ]
    bad = run("subscribers", "list", "--status", "nobody", cwd=tmp_path)
    assert bad.returncode == 1 and len(bad.stderr.splitlines()) == 2


def test_serve_on_a_busy_port_fails_before_starting_anything(tmp_path: Path) -> None:
    write_config(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = run("serve", "--port", str(port), cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout == ""  # no "serving on", no scheduler
    lines = r.stderr.splitlines()
    assert lines[0] == f"error: 127.0.0.1:{port}: cannot listen: Address already in use"
    assert lines[1].startswith("hint: another process is using the port")
    assert len(lines) == 2
    assert not (tmp_path / "data").exists()  # not even the store was opened


def test_check_counts_its_problems_in_words(tmp_path: Path) -> None:
    write_config(tmp_path, '[site]\ntemplates_dir = "nope"\n')
    one = run("check", cwd=tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[schedule.jobs.a]\nkind = "cleanup"\ncron = "99 * * * *"\n'
        '[schedule.jobs.b]\nkind = "cleanup"\ncron = "0 99 * * *"\n'
        "[web]\nport = 0\n",
        encoding="utf-8",
    )
    three = run("--config", str(bad), "check", cwd=tmp_path)
    assert three.returncode == 1
    assert three.stderr.splitlines()[0] == "error: 3 problems in the configuration"
    assert "problem(s)" not in one.stdout + one.stderr + three.stdout + three.stderr


def test_users_add_list_passwd_remove(tmp_path: Path) -> None:
    write_config(tmp_path)
    add = run(
        "users",
        "add",
        "quantri",
        "--role",
        "admin",
        "--email",
        "qt@example.vn",
        "--password-stdin",
        cwd=tmp_path,
        stdin=PASSWORD + "\n",
    )
    assert add.returncode == 0 and add.stdout == "added quantri (admin)\n", add.stderr
    again = run(
        "users",
        "add",
        "quantri",
        "--role",
        "viewer",
        "--password-stdin",
        cwd=tmp_path,
        stdin=PASSWORD + "\n",
    )
    assert again.returncode == 1 and again.stderr.startswith("error: quantri: the user exists")
    short = run(
        "users", "add", "xem", "--role", "viewer", "--password-stdin", cwd=tmp_path, stdin="ngắn\n"
    )
    assert short.returncode == 1 and "too short" in short.stderr
    listed = run("users", "list", cwd=tmp_path).stdout.splitlines()
    assert listed[0].split() == ["name", "role", "email", "created", "last", "login"]
    assert listed[1].split()[:3] == ["quantri", "admin", "qt@example.vn"]
    data = json.loads(run("users", "list", "--json", cwd=tmp_path).stdout)
    assert data[0]["name"] == "quantri" and data[0]["created_at"].endswith("+07:00")
    passwd = run(
        "users",
        "passwd",
        "quantri",
        "--password-stdin",
        cwd=tmp_path,
        stdin="một mật khẩu mới khác\n",
    )
    assert passwd.returncode == 0 and "sessions ended" in passwd.stdout
    assert run("users", "remove", "quantri", cwd=tmp_path).stdout == "removed quantri\n"
    gone = run("users", "remove", "quantri", cwd=tmp_path)
    assert gone.returncode == 1 and gone.stderr.startswith("error: quantri: no such user")

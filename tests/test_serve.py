"""`tgfeed serve` as a real process: live reload of the schedule, one scheduler per
store, the admin status page behind its token, a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import free_port, write_config

TOKEN = "s3cret-admin-token"
SCHEDULE = """
[web]
admin_token_env = "TGFEED_TEST_ADMIN"
[schedule.jobs.weekly_digest]
kind = "send_digest"
cron = "0 7 * * mon"
misfire_grace = "6h"
"""


class Serve:
    def __init__(self, cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "TGFEED_TEST_ADMIN": TOKEN}
        env.pop("TGFEED_CONFIG", None)
        self.log = (cwd / f"serve-{self.port}.log").open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tgfeed",
                "--config",
                str(cwd / "config.toml"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("tgfeed serve did not start: " + self.output())
            time.sleep(0.1)

    def status(self) -> dict[str, Any]:
        r = httpx.get(
            self.url + "/admin/status?format=json",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=5,
        )
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def serve_dir(tmp_path: Path) -> Path:
    write_config(tmp_path, SCHEDULE)
    return tmp_path


def _wait_for(check: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_live_reload_and_refused_edit(serve_dir: Path) -> None:
    srv = Serve(serve_dir)
    try:
        job = srv.status()["schedule"]["jobs"][0]
        assert job["name"] == "weekly_digest"
        assert job["next"][0].endswith("07:00:00+07:00")
        config = serve_dir / "config.toml"
        config.write_text(
            config.read_text(encoding="utf-8").replace("0 7 * * mon", "15 8 * * wed"),
            encoding="utf-8",
        )
        t0 = time.monotonic()
        changed = _wait_for(
            lambda: srv.status()["schedule"]["jobs"][0]["next"][0].endswith("08:15:00+07:00")
        )
        assert changed, srv.output()
        assert time.monotonic() - t0 < 5
        config.write_text(
            config.read_text(encoding="utf-8").replace(
                'cron = "15 8 * * wed"', 'cron = "15 8 * * someday"'
            ),
            encoding="utf-8",
        )
        err = _wait_for(lambda: srv.status()["schedule"]["config_error"])
        assert err and "schedule.jobs.weekly_digest.cron" in err[0]
        status = srv.status()["schedule"]
        assert status["jobs"][0]["next"][0].endswith("08:15:00+07:00")  # old schedule runs
        assert status["role"] == "leader"
        page = httpx.get(srv.url + "/admin/status", headers={"Authorization": f"Bearer {TOKEN}"})
        assert "Cấu hình mới bị từ chối" in page.text
    finally:
        # uvicorn shuts down gracefully, then re-raises SIGTERM (as systemd expects)
        assert srv.stop() in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in srv.output()


def test_admin_status_needs_the_token(serve_dir: Path) -> None:
    srv = Serve(serve_dir)
    try:
        assert httpx.get(srv.url + "/admin/status").status_code == 401
        bad = httpx.get(srv.url + "/admin/status", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert bad.headers["content-type"].startswith("text/html")
        assert "Cần xác thực" in bad.text
    finally:
        srv.stop()


def test_two_processes_one_scheduler(serve_dir: Path) -> None:
    first = Serve(serve_dir)
    second = Serve(serve_dir)
    try:
        roles = sorted([first.status()["schedule"]["role"], second.status()["schedule"]["role"]])
        assert roles == ["leader", "standby"]
        assert "serves HTTP only" in second.output()
    finally:
        first.stop()
        second.stop()

"""Shared fixtures: real SQLite files, a fixed clock, a real uvicorn server on a
free 127.0.0.1 port, and Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tgfeed.app import App, build_app
from tgfeed.config import Config
from tgfeed.jobs.ingest import import_paths
from tgfeed.loader import loads

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = ROOT / "src" / "tgfeed" / "samples" / "articles.jsonl"
SEED_DIR = ROOT.parent / "shared" / "seed"
CHROMIUM = Path("/usr/bin/chromium")

# Monday 2026-11-30 07:00 +07:00: the weekly digest's moment after the sample weeks.
FIXED_NOW = datetime(2026, 11, 30, 0, 0, tzinfo=timezone.utc)


class FixedClock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = FIXED_NOW) -> None:
        self.value = now

    def __call__(self) -> datetime:
        return self.value

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.value += timedelta(seconds=seconds)


def write_config(tmp_path: Path, extra: str = "") -> Path:
    """A config file under tmp_path with its store/outbox/output there too."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[store]\npath = "data/tgfeed.db"\n'
        '[feeds]\noutput_dir = "public"\n'
        '[mail]\noutbox_dir = "outbox"\n' + extra,
        encoding="utf-8",
    )
    return path


def make_config(tmp_path: Path, extra: str = "") -> Config:
    path = write_config(tmp_path, extra)
    return loads(path.read_bytes(), source=path)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``slow`` run only when ``-m`` selects them (``pytest -m slow``)."""
    if item.get_closest_marker("slow") is not None:
        expr = item.config.getoption("markexpr") or ""
        if "slow" not in expr or "not slow" in expr:
            pytest.skip("slow: run with `pytest -m slow`")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def app_factory(tmp_path: Path, clock: FixedClock) -> Iterator[Callable[..., App]]:
    """Build Apps over tmp_path (extra TOML appended to the base config)."""
    made: list[App] = []

    def factory(extra: str = "", *, samples: bool = False) -> App:
        app = build_app(make_config(tmp_path, extra), clock=clock)
        made.append(app)
        if samples:
            result = import_paths(app, [SAMPLES])
            assert result.count("failed") == 0, result.failures
        return app

    yield factory
    for app in made:
        app.close()


@pytest.fixture
def app(app_factory: Callable[..., App]) -> App:
    return app_factory()


@pytest.fixture
def sample_app(app_factory: Callable[..., App]) -> App:
    """An App whose store holds the packaged sample articles."""
    return app_factory(samples=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A real uvicorn server on 127.0.0.1 in a thread, for one test."""

    def __init__(self, asgi: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        from tgfeed.web.server import UVICORN_OPTIONS

        config = uvicorn.Config(
            asgi,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            **UVICORN_OPTIONS,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server() -> Callable[[Any], LiveServer]:
    """``with live_server(asgi_app) as srv: httpx.get(srv.url + "/")``."""
    return LiveServer


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Debian Chromium via Playwright (skipped where it is not installed).

    Function-scoped on purpose: Playwright's sync API keeps an event loop running in
    this thread while it is open, which would break later tests' ``asyncio.run``."""
    if not CHROMIUM.exists() and not os.environ.get("TGFEED_REQUIRE_BROWSER"):
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def seed_dir() -> Path:
    if not SEED_DIR.is_dir() or not any(SEED_DIR.iterdir()):
        pytest.skip("../shared/seed is not present")
    return SEED_DIR


__all__ = ["FIXTURES", "SAMPLES", "FixedClock", "LiveServer", "free_port", "shutil"]

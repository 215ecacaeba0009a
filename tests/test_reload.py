"""A live config reload reaches everything: edit ``site.title`` and a category's
description in the TOML of a running ``tgfeed serve``; within the reload interval
the served feed, the index page and ``tgfeed build`` all show the new values."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tgfeed.app import build_app
from tgfeed.cli.demo import samples_path
from tgfeed.jobs.ingest import import_paths
from tgfeed.loader import load_file

from .conftest import write_config
from .test_serve import Serve

OLD_TITLE, NEW_TITLE = "Bản tin cũ của Ban", "Bản tin mới của Ban Tuyên giáo"
OLD_DESC, NEW_DESC = "Mô tả cũ của chuyên mục", "Mô tả mới của chuyên mục"


def _config(title: str, names: list[str], desc: str) -> str:
    path = ", ".join(f'"{n}"' for n in names)
    return f'[site]\ntitle = "{title}"\n[[categories]]\npath = [{path}]\ndescription = "{desc}"\n'


def _until(check: object, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def test_a_reload_reaches_the_served_feeds_the_index_and_the_build(tmp_path: Path) -> None:
    config_file = write_config(tmp_path)
    with build_app(load_file(config_file)) as app:
        import_paths(app, [samples_path()])
        cat = app.store.articles.categories(only_used=True)[0]
    write_config(tmp_path, _config(OLD_TITLE, list(cat.names), OLD_DESC))
    serve = Serve(tmp_path)
    try:
        feed = f"{serve.url}/feeds/all.rss"
        cat_feed = f"{serve.url}/feeds/{cat.slug_path}.rss"
        assert OLD_TITLE in httpx.get(feed).text
        assert OLD_DESC in httpx.get(cat_feed).text
        write_config(tmp_path, _config(NEW_TITLE, list(cat.names), NEW_DESC))

        def reloaded() -> bool:
            return NEW_TITLE in httpx.get(feed).text

        assert _until(reloaded), serve.output()
        assert OLD_TITLE not in httpx.get(feed).text
        assert NEW_TITLE in httpx.get(serve.url + "/").text
        assert NEW_DESC in httpx.get(cat_feed).text
        built = subprocess.run(
            [sys.executable, "-m", "tgfeed", "--config", str(config_file), "build"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert built.returncode == 0, built.stderr
        out = tmp_path / "public"
        assert NEW_TITLE in (out / "feeds" / "all.rss").read_text(encoding="utf-8")
        assert NEW_DESC in (out / "feeds" / f"{cat.slug_path}.rss").read_text(encoding="utf-8")
    finally:
        serve.stop()

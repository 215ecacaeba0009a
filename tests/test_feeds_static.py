"""Static feeds at nginx speed (issue 14): `tgfeed build` writes a deterministic
``.gz`` beside every feed and the OPML, published with its file; the shipped nginx
site serves it with gzip_static, ETag and the file's Last-Modified, and answers 304."""

from __future__ import annotations

import dataclasses
import gzip
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from tgfeed.app import App
from tgfeed.jobs.feeds import build_feeds

from .test_deploy_nginx import NGINX, NGINX_ETAG, Stack, stack  # noqa: F401  (the fixture)


def siblings(out: Path) -> dict[str, tuple[int, bytes]]:
    """Every .gz under ``out``: relative path → (mtime_ns, bytes)."""
    return {
        p.relative_to(out).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(out.rglob("*.gz"))
    }


def test_gz_siblings_decompress_to_their_files_and_change_only_with_them(
    sample_app: App,
) -> None:
    first = build_feeds(sample_app)
    out = first.output_dir
    gz = siblings(out)
    # Every feed and the OPML has one; the index (served by tgfeed) has none.
    assert set(gz) == {rel + ".gz" for rel in first.written_paths if rel != "index.html"}
    for rel, (mtime_ns, data) in gz.items():
        plain = out / rel.removesuffix(".gz")
        assert gzip.decompress(data) == plain.read_bytes(), rel
        assert mtime_ns == plain.stat().st_mtime_ns, rel  # the same Last-Modified
        assert data[4:8] == b"\0\0\0\0", rel  # gzip mtime 0: the same bytes, the same .gz
    assert first.written == len(gz) + 1  # the siblings are not counted as feeds

    again = build_feeds(sample_app)
    assert again.written == 0 and siblings(out) == gz  # nothing changed: not touched

    newest = sample_app.store.articles.latest("thong-bao", 1)[0]
    fresh = dataclasses.replace(
        newest,
        id=newest.id + "-moi",
        url=newest.url.replace(".aspx", "-moi.aspx"),
        title="Thông báo bổ sung",
        published_at=newest.published_at + timedelta(hours=1),
    )
    sample_app.store.articles.upsert([fresh], now=sample_app.now())
    third = build_feeds(sample_app)
    now = siblings(out)
    changed = {rel for rel in gz if now[rel] != gz[rel]}
    assert changed == {rel + ".gz" for rel in third.written_paths if rel != "index.html"}
    for rel in changed:
        assert gzip.decompress(now[rel][1]) == (out / rel.removesuffix(".gz")).read_bytes()

    # A sibling deleted by hand comes back at the next build; a vanished feed takes
    # its sibling with it.
    (out / "feeds/all.rss.gz").unlink()
    build_feeds(sample_app)
    assert (
        gzip.decompress((out / "feeds/all.rss.gz").read_bytes())
        == (out / "feeds/all.rss").read_bytes()
    )


def test_a_removed_feed_takes_its_gz_along(sample_app: App) -> None:
    out = build_feeds(sample_app).output_dir
    leaf = "thong-tin-tuyen-truyen/tin-tuc-hoat-dong"
    assert (out / f"feeds/{leaf}.rss.gz").is_file()
    for article in sample_app.store.articles.latest(leaf, 100):
        sample_app.store.articles.unpublish(article.id, now=sample_app.now())
    result = build_feeds(sample_app)
    assert f"feeds/{leaf}.rss" in result.removed_paths
    assert not list(out.glob(f"feeds/{leaf}.*"))


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
def test_nginx_sends_the_precompressed_file_with_validators(stack: Stack) -> None:  # noqa: F811
    with httpx.Client(base_url=stack.url) as c:
        for rel in ("feeds/all.rss", "feeds/all.atom", "feeds/all.json", "feeds.opml"):
            sibling = (stack.public / (rel + ".gz")).read_bytes()
            with c.stream("GET", "/" + rel, headers={"Accept-Encoding": "gzip"}) as r:
                raw = b"".join(r.iter_raw())
            assert r.status_code == 200, rel
            assert r.headers["content-encoding"] == "gzip", rel
            # The .gz file itself (on-the-fly gzip would be chunked, other bytes).
            assert raw == sibling and r.headers["content-length"] == str(len(sibling)), rel
            etag, lm = r.headers["etag"], r.headers["last-modified"]
            assert NGINX_ETAG.match(etag), rel
            mtime = (stack.public / rel).stat().st_mtime
            assert parsedate_to_datetime(lm).timestamp() == mtime, rel
            gz = {"Accept-Encoding": "gzip"}
            assert c.get("/" + rel, headers={**gz, "If-None-Match": etag}).status_code == 304
            assert c.get("/" + rel, headers={**gz, "If-Modified-Since": lm}).status_code == 304
            plain = c.get("/" + rel, headers={"Accept-Encoding": "identity"})
            assert plain.content == (stack.public / rel).read_bytes(), rel

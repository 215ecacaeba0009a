"""Shared by the reliability, crash and concurrency tests: "is this a whole
document?" checks, snapshots of an output folder, articles made to order, and a
disk that fills up."""

from __future__ import annotations

import errno
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import lxml.etree as ET
import lxml.html
import pytest

from tgfeed.jobs.feeds import MANIFEST
from tgfeed.model import Article

from .conftest import free_port

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
XML_SUFFIXES = (".rss", ".atom", ".opml", ".xml")


class PartialDocument(AssertionError):
    """A document that is cut short, or is not a document of its kind at all."""


def check_document(name: str, data: bytes, content_type: str = "") -> str:
    """Raise PartialDocument unless ``data`` is one whole document of the kind its
    name (or content type) says; returns the kind checked."""
    if name.endswith(".gz") and not content_type:  # a precompressed sibling: whole gzip
        try:
            return check_document(name[:-3], gzip.decompress(data))
        except (OSError, EOFError) as exc:
            raise PartialDocument(f"{name}: {exc}") from exc
    kind = _kind(name, content_type)
    if not data:
        raise PartialDocument(f"{name}: empty")
    try:
        if kind == "xml":
            root = ET.fromstring(data)
            if root.tag not in ("rss", "opml", "{http://www.w3.org/2005/Atom}feed"):
                raise PartialDocument(f"{name}: unexpected root <{root.tag}>")
        elif kind == "json":
            doc = json.loads(data)
            if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
                raise PartialDocument(f"{name}: not a JSON Feed")
        elif kind == "html":
            # lxml recovers from anything, so also insist on the closing tag.
            if not data.rstrip().endswith(b"</html>"):
                raise PartialDocument(f"{name}: HTML does not end with </html>")
            lxml.html.document_fromstring(data)
        else:
            raise PartialDocument(f"{name}: unknown kind")
    except (ET.XMLSyntaxError, ValueError) as exc:
        raise PartialDocument(f"{name}: {type(exc).__name__}: {exc}") from exc
    return kind


def _kind(name: str, content_type: str) -> str:
    ct = content_type.split(";")[0].strip().lower()
    if ct:  # the server's word first
        if ct.endswith(("xml", "x-opml")):
            return "xml"
        if ct.endswith("json"):
            return "json"
        return "html" if ct == "text/html" else "?"
    if name.endswith(XML_SUFFIXES):
        return "xml"
    if name.endswith(".json"):
        return "json"
    if name.endswith((".html", "/")):
        return "html"
    return "?"


def published_files(out: Path) -> dict[str, bytes]:
    """What nginx would serve from ``out``: every file but temp files and the manifest."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.name.startswith(".") and p.name != MANIFEST
    }


def temp_files(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob(".*.tmp"))


def linked_feeds(out: Path) -> set[str]:
    """The feed files ``index.html`` and ``feeds.opml`` link to (relative paths)."""
    rels: set[str] = set()
    index = out / "index.html"
    if index.exists():
        doc = lxml.html.document_fromstring(index.read_bytes())
        for href in doc.xpath("//a/@href | //link[@rel='alternate']/@href"):
            if "/feeds/" in href and href.endswith((".rss", ".atom", ".json")):
                rels.add("feeds/" + href.split("/feeds/", 1)[1])
    opml = out / "feeds.opml"
    if opml.exists():
        for url in ET.fromstring(opml.read_bytes()).xpath("//outline/@xmlUrl"):
            rels.add("feeds/" + str(url).split("/feeds/", 1)[1])
    return rels


def article(n: int, category: tuple[str, ...] = ("Tin tức", "Trong tỉnh"), **kw: object) -> Article:
    fields: dict[str, object] = {
        "id": f"tag:tuyengiaohungyen.vn,2018:bai-viet/{900000 + n}",
        "url": f"https://tuyengiaohungyen.vn/bai-viet/tin-so-{n}-{900000 + n}.aspx",
        "title": f"Hội nghị số {n} về công tác tuyên giáo",
        "category": category,
        "published_at": T0 + timedelta(minutes=n),
        "body_text": f"Nội dung bài số {n}. " * 20,
        "body_html": f"<p>Nội dung bài số {n}.</p>" * 20,
        "summary": f"Tóm tắt bài số {n}",
        "author": "Lưu Tú",
    }
    fields.update(kw)
    return Article(**fields)  # type: ignore[arg-type]


class DiskFull:
    """``os.write`` for files under ``root`` fails with ENOSPC once ``budget`` bytes
    have been written there (everything else writes normally)."""

    def __init__(self, root: Path, budget: int, only: str = "") -> None:
        self.root = str(root.resolve())
        self.budget = budget
        self.only = only  # fail only files whose path contains this
        self.refused = 0
        self._real = os.write

    def __call__(self, fd: int, data: bytes | memoryview) -> int:  # same shape as os.write
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = ""
        if target.startswith(self.root + os.sep) and self.only in target:
            if self.budget <= 0:
                self.refused += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            data = memoryview(data)[: self.budget]
            n = self._real(fd, data)
            self.budget -= n
            return n
        return self._real(fd, data)


@contextmanager
def disk_full(
    monkeypatch: pytest.MonkeyPatch, root: Path, budget: int, only: str = ""
) -> Iterator[DiskFull]:
    fault = DiskFull(root, budget, only)
    monkeypatch.setattr(os, "write", fault)
    try:
        yield fault
    finally:
        monkeypatch.setattr(os, "write", fault._real)


@contextmanager
def tmpfs(path: Path, size_kib: int) -> Iterator[Path]:
    """A real, tiny tmpfs at ``path`` (root only; the test is skipped otherwise)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path: Path, size_kib: int) -> None:
    subprocess.run(
        ["mount", "-o", f"remount,size={size_kib}k", str(path)], check=True, capture_output=True
    )


class ServeProcess:
    """`tgfeed serve` as a real process on a free 127.0.0.1 port (web + scheduler)."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {k: v for k, v in os.environ.items() if k != "TGFEED_CONFIG"}
        full_env.update(env or {})
        self.log_path = config.parent / f"serve-{self.port}.log"
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "tgfeed", "--config", str(config), "serve"),
                *("--host", "127.0.0.1", "--port", str(self.port)),
            ],
            cwd=config.parent,
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("tgfeed serve did not start: " + self.output())
            time.sleep(0.1)

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(encoding="utf-8")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

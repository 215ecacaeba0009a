"""`tgfeed build` when nothing changed, answered with the standard library only.

A build that changed nothing reads no article and renders nothing (``jobs.feeds``),
but a whole process still paid for its imports: pydantic, sqlite-utils, feedgen,
Jinja2, click and rich, most of a second. So a successful build also records, in
its manifest (``.tgfeed-build.json``, key ``fast``), what a cheap check needs to
know the next build would change nothing:

* the config: its file's path and bytes (no file: the defaults, relative to the
  working directory) — recorded only when the config the build ran with is exactly
  what that file loads to — and the output folder, store and ``templates_dir`` it
  names;
* tgfeed's own files (name, size, mtime: an upgrade or an edited checkout) and the
  bytes of every file under ``templates_dir``;
* the store's articles version and the migrations applied to it;
* the window in which the output stays the same on its own: from the build's start
  until the first tombstone it carries expires (``[feeds] tombstone_days``);
* the files the build left (size, mtime; the manifest has them already).

Paths and contents are kept as hashes: the output folder may be served whole.

``fast_build(argv)`` runs before anything heavy is imported: for `tgfeed build`
(only ``--config``, ``-q``/``--quiet`` and ``--list`` besides) it checks all of the
above and, when everything matches, prints the line the full build prints and
returns True. Any doubt — no record, a failed build last time, another flag, a
read error, a stray or temp file, a hub to notify — returns False and the normal
command runs (which writes a record for next time).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .defaults import DEFAULT_FILE, DEFAULT_OUTPUT_DIR, DEFAULT_STORE, ENV_VAR, package_templates

MANIFEST = ".tgfeed-build.json"
MANIFEST_FORMAT = 1
FAST = "fast"  # the manifest's key for the record

# `tgfeed build` flags that print nothing more when nothing changed.
QUIET_FLAGS = frozenset({"-q", "--quiet", "--list"})


def load_manifest(root: Path, name: str = MANIFEST) -> dict[str, Any]:
    """The manifest in ``root``; ``{}`` if missing, unreadable or of another format."""
    try:
        data = json.loads((root / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        return {}
    return data


def summary(
    *,
    written: int,
    unchanged: int,
    removed: int,
    feeds: int,
    rendered: int,
    output_dir: Path,
    dry_run: bool = False,
) -> str:
    """The last line of `tgfeed build`."""
    verb = "would be " if dry_run else ""
    return (
        f"{written} {verb}written, {unchanged} unchanged, {removed} {verb}removed "
        f"({feeds} feeds × 3 formats, {rendered} rendered) in {output_dir}"
    )


# -- what a record is made of -------------------------------------------------


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def config_source(raw: bytes, source: Path | None, base: Path) -> str:
    """Which config a build ran with: its file (None: the defaults), its bytes and
    the folder its relative paths are resolved against — as a hash."""
    return _digest(json.dumps([str(source) if source else None, str(base), _digest(raw)]).encode())


def paths_key(output_dir: Path, store: Path, templates_dir: Path | None) -> str:
    """The folders and the store a build used (a hash: the manifest may be public)."""
    names = [str(output_dir), str(store), str(templates_dir) if templates_dir else None]
    return _digest(json.dumps(names).encode("utf-8", "surrogateescape"))


def _files(root: str) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        out += [
            os.path.join(dirpath, f) for f in sorted(filenames) if not f.endswith((".pyc", ".pyo"))
        ]
    return out


def code_key() -> str:
    """tgfeed's own files and packaged templates: name, size and mtime of each."""
    h = hashlib.blake2b(digest_size=16)
    roots = [os.path.dirname(os.path.realpath(__file__)), str(package_templates())]
    for root in dict.fromkeys(roots):
        for path in _files(root):
            st = os.stat(path)
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def tree_key(folder: Path | None) -> str | None:
    """The bytes of every file under ``folder`` (the administrator's templates)."""
    if folder is None:
        return None
    h = hashlib.blake2b(digest_size=16)
    root = str(folder)
    for path in _files(root):
        h.update(os.path.relpath(path, root).encode("utf-8", "surrogateescape") + b"\0")
        with open(path, "rb") as f:
            h.update(_digest(f.read()).encode("ascii"))
    return h.hexdigest()


def store_state(path: Path) -> tuple[int, str] | None:
    """The store's articles version (as ``ArticlesRepo.version`` reads it) and a hash
    of the migrations applied to it, read only; None if it cannot be read."""
    import sqlite3  # not for `tgfeed --help`

    uri = path.as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=1.0)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'articles_version'").fetchone()
        names = conn.execute(
            "SELECT migration_set, name FROM _sqlite_migrations ORDER BY id"
        ).fetchall()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if row is None:
        return None
    return int(row[0]), _digest(json.dumps(names).encode("utf-8"))


def when(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def expiry(retracted: Sequence[datetime], days: int) -> datetime | None:
    """When the first of these tombstones leaves the feeds (None: none will)."""
    return min(retracted) + timedelta(days=days) if retracted and days > 0 else None


def record(
    *,
    config: str,
    output_dir: Path,
    store: Path,
    version: int,
    templates_dir: Path | None,
    start: datetime,
    until: datetime | None,
    suffixes: Sequence[str],
    gzip: Sequence[str],
) -> dict[str, Any] | None:
    """The manifest's ``fast`` record of a build that ran with ``config``
    (``config_source``) on the store at ``store``, version ``version``, from
    ``start``; None when the store no longer is at that version. It holds hashes,
    the version and two instants, no path: the output folder may be served whole."""
    state = store_state(store)
    if state is None or state[0] != version:
        return None  # it changed during the build: the next build looks again
    return {
        "config": config,
        "paths": paths_key(output_dir, store, templates_dir),
        "code": code_key(),
        "templates": tree_key(templates_dir),
        "version": version,
        "migrations": state[1],
        "from": when(start),
        "until": when(until),
        "suffixes": list(suffixes),
        "gzip": list(gzip),
    }


# -- the check ----------------------------------------------------------------


def _parse(argv: Sequence[str]) -> tuple[Path | None] | None:
    """``(config path or None,)`` for `[--config X] build [-q|--quiet|--list]...`;
    None for anything else (the normal command line parser handles it)."""
    args = list(argv)
    config: Path | None = None
    if args and args[0].startswith("--config"):
        if args[0] == "--config" and len(args) > 1:
            config, args = Path(args[1]), args[2:]
        elif args[0].startswith("--config="):
            config, args = Path(args[0].removeprefix("--config=")), args[1:]
        else:
            return None
    if not args or args[0] != "build" or not set(args[1:]) <= QUIET_FLAGS:
        return None
    return (config,)


def _config(path: Path | None, cwd: Path) -> tuple[bytes, Path | None, Path] | None:
    """The config `tgfeed build` would load (``loader.load``): (bytes, file, base)."""
    explicit = path is not None or bool(os.environ.get(ENV_VAR))
    if path is None:
        path = Path(os.environ.get(ENV_VAR) or DEFAULT_FILE)
    if not (cwd / path).exists():
        return None if explicit else (b"", None, cwd)
    source = (cwd / path).resolve()
    try:
        return source.read_bytes(), source, source.parent
    except OSError:
        return None


def _located(raw: bytes, base: Path) -> tuple[Path, Path, Path | None] | None:
    """(output folder, store, templates folder) as the config names them, resolved
    like ``Config.resolve``; None when one of them is not a string."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    feeds, store = data.get("feeds", {}), data.get("store", {})
    if not isinstance(feeds, dict) or not isinstance(store, dict):
        return None
    named = [
        feeds.get("output_dir", str(DEFAULT_OUTPUT_DIR)),
        store.get("path", str(DEFAULT_STORE)),
    ]
    templates = data.get("templates_dir")
    if templates is not None:
        named.append(templates)
    if not all(isinstance(v, str) for v in named):
        return None
    paths = [Path(v) if Path(v).is_absolute() else base / v for v in named]
    return paths[0], paths[1], paths[2] if templates is not None else None


def _in_window(rec: dict[str, Any], now: datetime) -> bool:
    """The output has not changed on its own since the build (no tombstone expired,
    and the clock is not before the build's start)."""
    try:
        start = datetime.fromisoformat(rec["from"])
        until = datetime.fromisoformat(rec["until"]) if rec["until"] is not None else None
    except (KeyError, TypeError, ValueError):
        return False
    return start <= now and (until is None or now + timedelta(seconds=1) < until)


def _intact(root: Path, files: dict[str, Any], rec: dict[str, Any]) -> bool:
    """Every file as the build left it, no feed it did not write, no temp file.
    (Strings, not Paths: a thousand files and more.)"""
    suffixes = tuple(rec.get("suffixes", ()))
    if not files or not suffixes:
        return False
    base = str(root) + os.sep
    for rel, entry in files.items():
        try:
            st = os.stat(base + rel, follow_symlinks=False)
        except OSError:
            return False
        if [st.st_size, st.st_mtime_ns] != entry[:2]:
            return False
    todo = [str(root)]
    while todo:
        with os.scandir(todo.pop()) as it:
            for e in it:
                if e.is_symlink() or (e.name.startswith(".") and e.name.endswith(".tmp")):
                    return False  # a symlink, or a killed or running build's temp file
                if e.is_dir():
                    todo.append(e.path)
                    continue
                rel = e.path[len(base) :].replace(os.sep, "/")
                stray = rel.startswith("feeds/") and e.name.endswith(suffixes)
                if stray and not e.name.startswith(".") and rel not in files:
                    return False
    return True


def unchanged_line(
    argv: Sequence[str], *, now: datetime | None = None, cwd: Path | None = None
) -> str | None:
    """The summary line of `tgfeed ARGV` if it is a build that would change nothing
    (see the module docstring); None when the normal command must run."""
    parsed = _parse(argv)
    here = cwd or Path.cwd()
    loaded = _config(parsed[0], here) if parsed else None
    located = _located(loaded[0], loaded[2]) if loaded else None
    if loaded is None or located is None:
        return None
    root, store, templates = located
    manifest = load_manifest(root)
    rec = manifest.get(FAST)
    if not isinstance(rec, dict) or manifest.get("version") is None:
        return None
    files = manifest.get("files")
    try:
        same = (
            rec["config"] == config_source(*loaded)
            and rec["paths"] == paths_key(root, store, templates)
            and rec["version"] == manifest["version"]
            and rec["code"] == code_key()
            and rec["templates"] == tree_key(templates)
            and store_state(store) == (rec["version"], rec["migrations"])
            and _in_window(rec, now or datetime.now(UTC))
            and isinstance(files, dict)
            and _intact(root, files, rec)
        )
    except (KeyError, TypeError, ValueError, OSError):
        return None
    if not same:
        return None
    assert isinstance(files, dict)
    gz = tuple(rec.get("gzip", ()))
    siblings = sum(1 for rel in files if rel.endswith(".gz") and gz and rel[:-3].endswith(gz))
    feeds = manifest.get("feeds", {})
    return summary(
        written=0,
        unchanged=len(files) - siblings,
        removed=0,
        feeds=len(feeds) if isinstance(feeds, dict) else 0,
        rendered=0,
        output_dir=root,
    )


def fast_build(argv: Sequence[str] | None = None) -> bool:
    """Print the summary and return True if `tgfeed ARGV` is a build that would
    change nothing; False: run the command as usual."""
    try:
        line = unchanged_line(sys.argv[1:] if argv is None else argv)
    except Exception:  # whatever it is, the full command meets it and says so
        return False
    if line is None or "[" in line or ":" in line:  # rich markup or emoji codes: print as usual
        return False
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    if encoding != "utf8":
        return False
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    return True

"""The architecture, enforced: pure modules import no edge; each external library
is imported by one module (or one package); ruff and mypy are clean."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tgfeed"
ROOT = SRC.parents[1]

PURE = [
    "text.py",
    "parser.py",
    "sanitize.py",
    "importers.py",
    "model.py",
    "errors.py",
    "feeds/render.py",
    "digest/select.py",
    "digest/render.py",
    "digest/message.py",
    "scheduler/triggers.py",
]
EDGES = (
    "sqlite_utils",
    "sqlite3",
    "httpx",
    "aiosmtplib",
    "uvicorn",
    "starlette",
    "watchfiles",
    "tgfeed.store",
    "tgfeed.mail",
    "tgfeed.web",
    "tgfeed.jobs",
    "tgfeed.cli",
    "tgfeed.scheduler.service",
    "tgfeed.scheduler.runner",
    "tgfeed.app",
)

# library -> the only module (or package prefix) allowed to import it
OWNERS: dict[str, str | tuple[str, ...]] = {
    "feedgen": "feeds/render.py",
    "sqlite_utils": "store/",
    "apscheduler": "scheduler/",
    "aiosmtplib": "mail/smtp.py",
    # Outbound HTTP: the crawler fetches, the WebSub publisher pings the hub.
    "httpx": ("sources/crawler.py", "websub.py"),
    "feedparser": "sources/feeds.py",
    "css_inline": "digest/render.py",
    "nh3": "sanitize.py",
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = ".".join(["tgfeed", *path.relative_to(SRC).parent.parts])
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, node.module] if node.module else base)
                out.add(mod)
                out |= {f"{mod}.{a.name}" for a in node.names}
            elif node.module:
                out.add(node.module)
    return out


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_no_edge(module: str) -> None:
    path = SRC / module
    if not path.exists():
        pytest.skip(f"{module} does not exist")
    bad = sorted(i for i in imports(path) if i.startswith(EDGES))
    assert not bad, f"{module} imports edges: {bad}"


def test_each_library_has_one_home() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        for name in imports(path):
            lib = name.split(".")[0]
            owner = OWNERS.get(lib)
            homes = owner if isinstance(owner, tuple) else (owner,) if owner else ()
            if homes and not any(rel.startswith(h) or rel == h for h in homes):
                offenders.append(f"{rel} imports {lib} (home: {', '.join(homes)})")
    assert not offenders, offenders


def _tool(name: str) -> list[str]:
    exe = shutil.which(name)
    return [exe] if exe else [sys.executable, "-m", name]


def test_ruff_is_clean() -> None:
    r = subprocess.run(
        [*_tool("ruff"), "check", "src", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(
        [*_tool("ruff"), "format", "--check", "src"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_is_clean() -> None:
    r = subprocess.run(
        [*_tool("mypy"), "src"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert r.returncode == 0, r.stdout + r.stderr

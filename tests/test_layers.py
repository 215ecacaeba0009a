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
    "inbox/parse.py",
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

# I/O libraries a pure module must not reach through any import chain
IO_LIBRARIES = (
    "sqlite3",
    "sqlite_utils",
    "httpx",
    "httpcore",
    "aiosmtplib",
    "uvicorn",
    "starlette",
    "watchfiles",
    "socket",
    "smtplib",
    "imaplib",
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
    "tomlkit": "schedule_edit.py",
    "imaplib": "inbox/imap.py",
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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["tgfeed", *parts])


def _walk_running(tree: ast.AST) -> list[ast.AST]:
    """Every node, except inside ``if TYPE_CHECKING:`` blocks (they never run)."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        out.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return out


def _graph(*, top_level_only: bool) -> dict[str, set[str]]:
    """tgfeed module -> the tgfeed modules and libraries it imports when it runs
    (``if TYPE_CHECKING:`` blocks excluded); ``top_level_only``: module level only."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found: set[str] = set()
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        nodes = tree.body if top_level_only else list(_walk_running(tree))
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    mod = ".".join([*base, node.module] if node.module else base)
                else:
                    mod = node.module or ""
                found.add(mod)
                found |= {f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in modules}
        # importing a sibling (``from . import x``) names the package being imported
        # already: not an edge back to it
        graph[name] = {m for m in found if m != name and not name.startswith(m + ".")}
    return graph


def _chain(graph: dict[str, set[str]], start: str, bad: tuple[str, ...]) -> list[str] | None:
    """The first import chain from ``start`` to a module or library in ``bad``."""
    seen = {start}
    queue: list[list[str]] = [[start]]
    while queue:
        path = queue.pop(0)
        for nxt in sorted(graph.get(path[-1], ())):
            if nxt.startswith(bad) or nxt.split(".")[0] in bad:
                return [*path, nxt]
            if nxt in graph and nxt not in seen:
                seen.add(nxt)
                queue.append([*path, nxt])
    return None


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_reach_no_edge_through_any_chain(module: str) -> None:
    """Not only its own imports: nothing a pure module imports, transitively (lazy
    imports inside functions included), reaches an I/O library or an edge."""
    path = SRC / module
    assert path.exists(), f"{module} is listed as pure but does not exist"
    name = _module_name(path)
    chain = _chain(_graph(top_level_only=False), name, (*EDGES, *IO_LIBRARIES))
    assert chain is None, f"{module} reaches an edge: {' -> '.join(chain or [])}"


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt == start:
                return [*path, nxt]
            if nxt in graph and nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_no_import_cycles_and_no_function_level_import_dodges_one() -> None:
    """Module-level imports form no cycle; and no import inside a function would
    form one if it were at the top (a lazy import may save start-up time, never
    hide a cycle)."""
    top = _graph(top_level_only=True)
    every = _graph(top_level_only=False)
    cycles = [c for m in sorted(top) if (c := _cycle_through(top, m))]
    assert not cycles, "import cycle: " + " -> ".join(cycles[0])
    dodged = [c for m in sorted(every) if (c := _cycle_through(every, m))]
    assert not dodged, "a function-level import hides a cycle: " + " -> ".join(dodged[0])


# Imports deferred into a function so that a command that does not need them starts
# without them (``tests/test_cli_lazy.py`` checks the commands): (module, what) -> why.
DEFERRED = {
    ("app.py", "tgfeed.feeds.publish"): "feedgen, the renderers: only to build or serve feeds",
    ("app.py", "tgfeed.mail"): "aiosmtplib and dkimpy: only to send mail",
    ("cli/feeds.py", "tgfeed.websub"): "httpx: only with a WebSub hub ([feeds] hub)",
    ("cli/__init__.py", "tgfeed.cli.base"): "click, rich: not for a build that changes nothing",
    ("cli/__init__.py", "tgfeed.nochange"): "the no-change check: only for a `tgfeed build`",
    ("nochange.py", "sqlite3"): "the store's version: only for a `tgfeed build`",
}


@pytest.mark.parametrize(("module", "target"), sorted(DEFERRED))
def test_deferred_imports_are_deferred(module: str, target: str) -> None:
    """A listed import happens inside a function of its module, and nothing that
    module imports at the top reaches it (else deferring it would save nothing)."""
    name = _module_name(SRC / module)
    assert target in _graph(top_level_only=False)[name], f"{module} no longer imports {target}"
    chain = _chain(_graph(top_level_only=True), name, (target,))
    assert chain is None, f"{module} imports {target} at start-up: {' -> '.join(chain or [])}"


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

"""`tgfeed --help` lists every command without importing any command module, and
`tgfeed <cmd>` imports only the modules of that command (``tgfeed.cli.lazy``)."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

import tgfeed.cli
from tgfeed.cli import cli
from tgfeed.cli.lazy import COMMANDS, LazyGroup

from .conftest import SAMPLES, write_config

# Libraries a help screen has no use for (numpy: sqlite-utils imports it when present).
HEAVY = (
    "httpx",
    "httpcore",
    "feedgen",
    "sqlite_utils",
    "sqlite3",
    "numpy",
    "aiosmtplib",
    "apscheduler",
    "starlette",
    "uvicorn",
    "jinja2",
    "feedparser",
    "nh3",
    "dkim",
    "tgfeed.app",
    "tgfeed.store",
)

# The subprocesses run the tgfeed this test imported, whatever the working directory.
SRC = str(Path(tgfeed.cli.__file__).resolve().parents[2])
ENV = {
    **os.environ,
    "COLUMNS": "200",
    "PYTHONPATH": os.pathsep.join([SRC, *filter(None, [os.environ.get("PYTHONPATH")])]),
}
ENV.pop("TGFEED_CONFIG", None)

COMMAND_MODULES = {m for entry in COMMANDS.values() for m in entry.modules}

# Runs the CLI as `python -m tgfeed` would, then prints the modules it imported.
WRAPPER = """\
import json, runpy, sys
sys.argv = ["tgfeed", *sys.argv[1:]]
try:
    runpy.run_module("tgfeed", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
print("\\n@@" + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[str, int, set[str]]:
    r = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**ENV, **(env or {})},
        timeout=120,
        check=False,
    )
    out, _, tail = r.stdout.rpartition("\n@@")
    report = json.loads(tail)
    return out, report["code"], set(report["modules"])


def python(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in a fresh process on the code under test."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
        check=False,
    )


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m in HEAVY or m.split(".")[0] in HEAVY)


def test_help_lists_every_command_and_imports_no_heavy_module(tmp_path: Path) -> None:
    out, code, modules = run_cli("--help", cwd=tmp_path)
    assert code == 0
    assert heavy(modules) == []
    assert not modules & COMMAND_MODULES
    listed = [line.split()[0] for line in out.split("Commands:\n")[1].splitlines() if line]
    assert listed == sorted(COMMANDS)


def test_lazy_help_is_the_help_of_the_loaded_commands() -> None:
    """The table's lines, cut to the terminal, are what click prints from the real
    commands (a group that has every command loaded prints their own help)."""
    loaded = click.Group(name="tgfeed", params=cli.params, help=cli.help)
    lazy = LazyGroup(name="tgfeed", params=cli.params, help=cli.help, lazy=COMMANDS)
    for name in COMMANDS:
        cmd = cli.get_command(click.Context(cli), name)
        assert cmd is not None
        loaded.add_command(cmd, name)
    for width in (60, 80, 200):
        want = loaded.get_help(click.Context(loaded, info_name="tgfeed", terminal_width=width))
        got = lazy.get_help(click.Context(lazy, info_name="tgfeed", terminal_width=width))
        assert got == want


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_table_help_is_the_commands_docstring(name: str) -> None:
    cmd = cli.get_command(click.Context(cli), name)
    assert cmd is not None and cmd.name == name and not cmd.hidden
    first_paragraph = " ".join((cmd.help or "").split("\n\n")[0].split())
    assert COMMANDS[name].help == first_paragraph


def test_every_command_comes_from_the_modules_the_table_names() -> None:
    """Importing every module of the package registers exactly the table's commands,
    each defined (subcommands included) in the modules its entry imports."""
    for info in pkgutil.iter_modules(tgfeed.cli.__path__, "tgfeed.cli."):
        importlib.import_module(info.name)
    assert sorted(cli.commands) == sorted(COMMANDS)

    def homes(cmd: click.Command) -> set[str]:
        found = {cmd.callback.__module__} if cmd.callback else set()
        if isinstance(cmd, click.Group):
            for sub in cmd.commands.values():
                found |= homes(sub)
        return found

    for name, cmd in cli.commands.items():
        assert homes(cmd) <= set(COMMANDS[name].modules), name


@pytest.mark.parametrize(
    ("args", "own"),
    [
        (("build", "--help"), {"tgfeed.cli.feeds"}),
        (("status", "--help"), {"tgfeed.cli.schedule"}),
        (("digest", "--help"), {"tgfeed.cli.digest", "tgfeed.cli.digest_admin"}),
    ],
)
def test_a_command_imports_only_its_own_modules(
    args: tuple[str, ...], own: set[str], tmp_path: Path
) -> None:
    out, code, modules = run_cli(*args, cwd=tmp_path)
    assert code == 0 and "Usage: tgfeed" in out
    assert modules & COMMAND_MODULES == own


# What a build or a status report has no use for: the crawler's and the hub's HTTP,
# mail, the web server.
NOT_FOR_BUILD_OR_STATUS = (
    "httpx",
    "httpcore",
    "trio",
    "feedparser",
    "aiosmtplib",
    "dkim",
    "starlette",
    "uvicorn",
    "watchfiles",
)


def test_build_and_status_import_no_http_mail_or_web(tmp_path: Path) -> None:
    config = str(write_config(tmp_path))
    _, code, _ = run_cli("--config", config, "import", "-q", str(SAMPLES), cwd=tmp_path)
    assert code == 0
    for args, own in ((("build", "-q"), "tgfeed.cli.feeds"), (("status",), "tgfeed.cli.schedule")):
        out, code, modules = run_cli("--config", config, *args, cwd=tmp_path)
        assert code == 0, out
        assert modules & COMMAND_MODULES == {own}
        assert sorted({m.split(".")[0] for m in modules} & set(NOT_FOR_BUILD_OR_STATUS)) == []
    assert (tmp_path / "public" / "feeds" / "all.rss").is_file()


def test_a_group_is_whole_whichever_of_its_modules_loaded_first(tmp_path: Path) -> None:
    """`tgfeed demo` imports the digest's module, not ``digest_admin``: `digest
    resend` must still be found."""
    code = "import tgfeed.cli.digest\nfrom tgfeed.cli import main\nmain(['digest', 'resend', '-h'])"
    r = python("-c", code, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Usage: tgfeed digest resend" in r.stdout


def test_unknown_command_is_one_line_without_loading_any(tmp_path: Path) -> None:
    r = python("-m", "tgfeed", "biuld", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "error: No such command 'biuld'.",
        "hint: `tgfeed --help` lists the arguments and options",
    ]


def test_completion_of_command_names_imports_no_command(tmp_path: Path) -> None:
    env = {"_TGFEED_COMPLETE": "zsh_complete", "COMP_WORDS": "tgfeed s", "COMP_CWORD": "1"}
    out, code, modules = run_cli(cwd=tmp_path, env=env)
    assert code == 0
    lines = out.splitlines()  # zsh: type, value, help for each candidate
    want = [n for n in sorted(COMMANDS) if n.startswith("s")]
    assert lines[1::3] == want
    # each one line as click cuts a command's help (45 characters)
    assert lines[2::3] == [
        click.Command(n, help=COMMANDS[n].help).get_short_help_str() for n in want
    ]
    assert not modules & COMMAND_MODULES and heavy(modules) == []


def test_check_runs_the_digest_checks_in_a_fresh_process(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    r = python("-m", "tgfeed", "--config", str(config), "check", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "\n  digest: on; sections " in r.stdout


def test_demo_runs_every_step_in_a_fresh_process(tmp_path: Path) -> None:
    r = python("-m", "tgfeed", "demo", "--no-serve", "--dir", "d", cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "d" / "public" / "feeds" / "all.rss").is_file()
    assert list((tmp_path / "d" / "outbox" / "new").iterdir())

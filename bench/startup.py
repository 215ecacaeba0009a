"""Start-up cost of a `tgfeed` process: this checkout against another one.

    python -m bench.startup --old /tmp/tgfeed-old/src            # 5 pairs
    python -m bench.startup --old /tmp/tgfeed-old/src --pairs 9
    python -m bench.startup --old /tmp/tgfeed-old/src --config /srv/big/build.toml --bytecode

``--old`` is the ``src`` folder of another checkout, its ``templates`` beside it
(``mkdir /tmp/tgfeed-old && git archive <commit> src templates | tar -x -C
/tmp/tgfeed-old``); ``--new`` defaults to this checkout's. Each side gets
its own small store (the packaged sample articles, imported and built once by that
side), then for each command below the two run as fresh processes back to back,
new then old, ``--pairs`` times:

  --help   `python -m tgfeed --help`
  build    `python -m tgfeed build` with nothing changed
  status   `python -m tgfeed status`

``--config FILE``: the `build` case runs on that config instead (an existing
store whose feeds are built, e.g. the bench's 100,000 articles), both sides on the
same store and folder (a build that changes nothing writes nothing; each side
runs once before the pairs). ``--bytecode``: let Python write and use ``.pyc``
files, as an installed tgfeed does (unsets PYTHONDONTWRITEBYTECODE; each side
runs every command once first, to write them).

The figures are the CPU time (user + sys, ``os.wait4``) of the whole process,
min / median / max, and the ratio new/old of each pair; wall time beside it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.pairs import fmt_ratio, pairs

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {"--help": ["--help"], "build": ["build", "-q"], "status": ["status"]}
CONFIG = """\
[store]
path = "tgfeed.db"
[feeds]
output_dir = "public"
[mail]
outbox_dir = "outbox"
"""


def run(
    src: Path, workdir: Path, args: list[str], *, config: Path | None = None, pyc: bool = False
) -> dict[str, Any]:
    """One `python -m tgfeed ARGS` with ``src`` first on the path: its CPU and wall.
    ``config``: that file instead of the one in ``workdir``; ``pyc``: with bytecode."""
    env = {**os.environ, "PYTHONPATH": str(src), "COLUMNS": "100"}
    env.pop("TGFEED_CONFIG", None)
    if pyc:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    options = [] if args == ["--help"] else ["--config", str(config or workdir / "config.toml")]
    cmd = [sys.executable, "-m", "tgfeed", *options, *args]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(args)} failed with {src}")
    return {"cpu": usage.ru_utime + usage.ru_stime, "wall": wall}


def prepare(src: Path, workdir: Path) -> None:
    """A small store for ``src``: the sample articles imported, the feeds built."""
    workdir.mkdir(parents=True)
    (workdir / "config.toml").write_text(CONFIG, encoding="utf-8")
    samples = src / "tgfeed" / "samples" / "articles.jsonl"
    run(src, workdir, ["import", "-q", str(samples)])
    run(src, workdir, ["build", "-q"])


def measure(opts: argparse.Namespace, side: Path, workdir: Path, args: list[str]) -> Any:
    """The measurement of one side for one command (``--config`` for `build`)."""
    config = opts.config.resolve() if opts.config and args[0] == "build" else None
    return lambda: run(side, workdir, args, config=config, pyc=opts.bytecode)


def ms(spread: dict[str, float]) -> str:
    return (
        f"{spread['min'] * 1000:.0f} / {spread['median'] * 1000:.0f} / {spread['max'] * 1000:.0f}"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    ap.add_argument("--old", type=Path, required=True, help="src folder of the other checkout")
    ap.add_argument("--new", type=Path, default=ROOT / "src", help="default: this checkout's")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--config", type=Path, help="the `build` case on this config's store")
    ap.add_argument("--bytecode", action="store_true", help="with .pyc files (as installed)")
    opts = ap.parse_args(argv)
    if opts.pairs < 3:
        ap.error("--pairs must be at least 3")
    new, old = opts.new.resolve(), opts.old.resolve()
    with tempfile.TemporaryDirectory(prefix="tgfeed-startup-") as tmp:
        prepare(new, Path(tmp) / "new")
        prepare(old, Path(tmp) / "old")
        rows = []
        for name, args in COMMANDS.items():
            a = measure(opts, new, Path(tmp) / "new", args)
            b = measure(opts, old, Path(tmp) / "old", args)
            a(), b()  # .pyc files written, a --config store's pages in the cache
            print(f"{name}: {opts.pairs} pairs", file=sys.stderr, flush=True)
            rows.append((name, pairs(a, b, opts.pairs, say=lambda _msg: None)))
    print(
        f"CPU ms (user+sys) and wall ms of the whole process, min / median / max, {opts.pairs} pairs"
    )
    print(f"new = {new}\nold = {old}")
    if opts.config:
        print(f"build: --config {opts.config.resolve()}")
    print("with .pyc files\n" if opts.bytecode else "bytecode as the environment has it\n")
    head = ("command", "new CPU ms", "old CPU ms", "new/old", "new wall ms", "old wall ms")
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for name, r in rows:
        cells = (ms(r["a_cpu"]), ms(r["b_cpu"]), fmt_ratio(r["ratio"]))
        print(f"`{name}` | {' | '.join(cells)} | {ms(r['a_wall'])} | {ms(r['b_wall'])}")


if __name__ == "__main__":
    main()

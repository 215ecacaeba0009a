"""Start-up cost of a `tgfeed` process: this checkout against another one.

    python -m bench.startup --old /tmp/tgfeed-old/src            # 5 pairs
    python -m bench.startup --old /tmp/tgfeed-old/src --pairs 9

``--old`` is the ``src`` folder of another checkout, its ``templates`` beside it
(``mkdir /tmp/tgfeed-old && git archive <commit> src templates | tar -x -C
/tmp/tgfeed-old``); ``--new`` defaults to this checkout's. Each side gets
its own small store (the packaged sample articles, imported and built once by that
side), then for each command below the two run as fresh processes back to back,
new then old, ``--pairs`` times:

  --help   `python -m tgfeed --help`
  build    `python -m tgfeed build` with nothing changed
  status   `python -m tgfeed status`

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


def run(src: Path, workdir: Path, args: list[str]) -> dict[str, Any]:
    """One `python -m tgfeed ARGS` with ``src`` first on the path: its CPU and wall."""
    env = {**os.environ, "PYTHONPATH": str(src), "COLUMNS": "100"}
    env.pop("TGFEED_CONFIG", None)
    config = [] if args == ["--help"] else ["--config", str(workdir / "config.toml")]
    cmd = [sys.executable, "-m", "tgfeed", *config, *args]
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


def ms(spread: dict[str, float]) -> str:
    return (
        f"{spread['min'] * 1000:.0f} / {spread['median'] * 1000:.0f} / {spread['max'] * 1000:.0f}"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    ap.add_argument("--old", type=Path, required=True, help="src folder of the other checkout")
    ap.add_argument("--new", type=Path, default=ROOT / "src", help="default: this checkout's")
    ap.add_argument("--pairs", type=int, default=5)
    opts = ap.parse_args(argv)
    if opts.pairs < 3:
        ap.error("--pairs must be at least 3")
    new, old = opts.new.resolve(), opts.old.resolve()
    with tempfile.TemporaryDirectory(prefix="tgfeed-startup-") as tmp:
        prepare(new, Path(tmp) / "new")
        prepare(old, Path(tmp) / "old")
        rows = []
        for name, args in COMMANDS.items():
            print(f"{name}: {opts.pairs} pairs", file=sys.stderr, flush=True)
            r = pairs(
                lambda a=args: run(new, Path(tmp) / "new", a),
                lambda a=args: run(old, Path(tmp) / "old", a),
                opts.pairs,
                say=lambda _msg: None,
            )
            rows.append((name, r))
    print(f"CPU ms (user+sys) of the whole process, min / median / max, {opts.pairs} pairs")
    print(f"new = {new}\nold = {old}\n")
    head = ("command", "new CPU ms", "old CPU ms", "new/old", "wall ms new / old (median)")
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for name, r in rows:
        wall = f"{r['a_wall']['median'] * 1000:.0f} / {r['b_wall']['median'] * 1000:.0f}"
        print(f"`{name}` | {ms(r['a_cpu'])} | {ms(r['b_cpu'])} | {fmt_ratio(r['ratio'])} | {wall}")


if __name__ == "__main__":
    main()

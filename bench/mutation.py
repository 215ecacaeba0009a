"""Mutation testing of the core, run by hand (not in CI: too slow).

    python -m bench.mutation                     # every module in bench/mutation.toml
    python -m bench.mutation parser text         # some of them
    python -m bench.mutation parser --list       # the mutants, without running them
    python -m bench.mutation parser --only 1a2b3c4d --show   # one mutant, with its diff
    python -m bench.mutation -j 2 tokens         # two workers (the machine is shared)

A small AST mutator, on purpose: mutmut 3 runs the tests against the editable
install's ``src/`` (its ``.pth`` comes first), so it finds nothing to kill. Here
each mutant is one change to one module of a private copy of ``src/``, put first
on ``PYTHONPATH`` (no bytecode written or read), and the module's own tests from
``bench/mutation.toml`` run against it with ``pytest -x``. A failing, crashing or
hanging (timeout) run kills the mutant; a passing run lets it survive.

Operators: comparisons flipped (``<`` → ``<=``, ``<`` → ``>=``, ``==`` → ``!=``,
``in`` → ``not in``, ``is`` → ``is not``), ``and`` ↔ ``or``, ``not`` dropped,
integers ±1, ``True`` ↔ ``False``, ``+`` ↔ ``-``, statements dropped (replaced
by ``pass``), the first two positional arguments of a call swapped, the first two
items of a list or tuple literal swapped. Docstrings, annotations, decorators,
f-strings (messages), ``assert``, logging calls and ``TYPE_CHECKING`` blocks are
left alone.

A mutant has a stable id (a hash of its function, operator and code, not its
line), so a surviving mutant judged equivalent is listed with a one-line reason
under ``[modules.NAME.equivalent]`` in ``bench/mutation.toml`` and excluded
from the score: killed / (mutants - equivalent).
"""

from __future__ import annotations

import argparse
import ast
import compileall
import contextlib
import difflib
import importlib
import os
import py_compile
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .mutants import Mutant, mutants

ROOT = Path(__file__).resolve().parents[1]
CONFIG = Path(__file__).with_name("mutation.toml")


@dataclass(slots=True)
class Result:
    mutant: Mutant
    outcome: str  # killed | survived | timeout
    seconds: float


# -- running them ---------------------------------------------------------------


def _workspace() -> Path:
    """A private copy of src/, byte-compiled with hash-checked .pyc files: a
    mutated module never matches its .pyc, so it is always compiled afresh."""
    tmp = Path(tempfile.mkdtemp(prefix="tgfeed-mut-"))
    shutil.copytree(ROOT / "src", tmp / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp / "templates").symlink_to(ROOT / "templates")  # found beside src/ in a checkout
    compileall.compile_dir(
        tmp / "src", quiet=1, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH
    )
    return tmp


def _preload() -> None:
    """Import, once in this process, every third-party module the project uses
    (found by a child that imports all of tgfeed): each forked test run then only
    imports tgfeed itself — from its workspace."""
    code = (
        "import pkgutil, importlib, sys, tgfeed\n"
        "for m in pkgutil.walk_packages(tgfeed.__path__, 'tgfeed.'):\n"
        "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
        "import pytest, hypothesis\n"
        "print('\\n'.join(sorted(n for n in sys.modules if n.split('.')[0] not in "
        "('tgfeed', 'tests', '__main__'))))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    for name in out.split():
        # Not the private ones (``_asyncio``, ``_pytest`` …): their public module imports
        # them. Imported first, ``_asyncio`` loads a second copy of itself on Python 3.11
        # (asyncio imports it back while it initialises), and then asyncio.current_task()
        # is None in every task, so asyncio.timeout() raises "should be used inside a task".
        if name.startswith("_"):
            continue
        try:
            importlib.import_module(name)
        except Exception:
            continue


def _pytest_args(tests: list[str]) -> list[str]:
    # -n 0: one process (the suite's addopts ask for two xdist workers)
    args = ["-x", "-q", "--no-header", "-p", "no:cacheprovider", "-W", "ignore", "-n", "0"]
    args += ["--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml")]
    return args + [str(ROOT / t) for t in tests]


class _PerTest:
    """A pytest plugin: a test (setup, call, teardown) that runs longer than
    ``seconds`` fails with TimeoutError (SIGALRM in the main thread). A mutant that
    loses an event makes a test wait for ever; this ends it in seconds, not at the
    whole run's timeout."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    @staticmethod
    def _alarm(signum: int, frame: object) -> None:
        raise TimeoutError("the test ran past bench.mutation's test_timeout")

    def pytest_runtest_logstart(self, nodeid: str, location: object) -> None:
        signal.signal(signal.SIGALRM, self._alarm)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def pytest_runtest_logfinish(self, nodeid: str, location: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _start(work: Path, tests: list[str], test_timeout: float | None = None) -> int:
    """Fork a child that runs the tests against ``work/src``; its pid."""
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: never returns
        os.setpgid(0, 0)
        os.chdir(work)
        os.environ["PYTHONPATH"] = str(work / "src")  # for tests that start processes
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
        sys.dont_write_bytecode = True
        sys.path.insert(0, str(work / "src"))
        if not os.environ.get("MUTATION_VERBOSE"):  # show the test output of each run
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
        import pytest

        plugins = [_PerTest(test_timeout)] if test_timeout else []
        code = int(pytest.main(_pytest_args(tests), plugins=plugins))
    except BaseException:
        code = 99
    os._exit(code)


def _wait(pid: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            if code == 5:
                raise SystemExit("no tests ran")
            return "survived" if code == 0 else "killed"
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.02)


def _run_tests(
    work: Path, tests: list[str], timeout: float, test_timeout: float | None = None
) -> tuple[str, float]:
    start = time.monotonic()
    outcome = _wait(_start(work, tests, test_timeout), timeout)
    return outcome, time.monotonic() - start


def _sampled(mutant_id: str, sample: float) -> bool:
    """A fixed subset, by id: the same mutants in a run before and after a change."""
    return int(mutant_id, 16) % 1000 < sample * 1000


def run_module(
    name: str, spec: dict, jobs: int, only: set[str] | None, show: bool, sample: float = 1.0
) -> dict:
    path = ROOT / spec["path"]
    rel = Path(spec["path"]).relative_to("src")
    source = path.read_text(encoding="utf-8")
    _, found = mutants(source, name)
    equivalent: dict[str, str] = spec.get("equivalent", {})
    stale = sorted(set(equivalent) - {m.id for m in found})
    todo = [m for m in found if (only is None or m.id in only) and _sampled(m.id, sample)]
    plain = ast.unparse(ast.parse(source)).splitlines()
    works = [_workspace() for _ in range(max(1, jobs))]
    results: list[Result] = []
    try:
        per_test = spec.get("test_timeout")
        outcome, base = _run_tests(works[0], spec["tests"], 600, per_test)
        if outcome != "survived":
            raise SystemExit(f"{name}: the tests fail on the unmutated code")
        timeout = max(30.0, 4 * base)
        print(f"{name}: {len(todo)} mutants, tests {base:.1f}s each", flush=True)
        running: dict[int, tuple[Mutant, Path, float]] = {}
        queue = list(todo)
        free = list(works)
        while queue or running:
            while queue and free:
                m, work = queue.pop(0), free.pop()
                mutated = _mutated_source(source, name, m.id)
                if show:
                    diff = difflib.unified_diff(plain, mutated.splitlines(), lineterm="", n=1)
                    print("\n".join(diff))
                (work / "src" / rel).write_text(mutated, encoding="utf-8")
                running[_start(work, spec["tests"], per_test)] = (m, work, time.monotonic())
            pid, (m, work, began) = next(iter(running.items()))
            outcome = _wait(pid, timeout - (time.monotonic() - began))
            del running[pid]
            (work / "src" / rel).write_text(source, encoding="utf-8")
            free.append(work)
            results.append(Result(m, outcome, time.monotonic() - began))
            if outcome == "survived" and m.id not in equivalent:  # as it happens
                print(f"  survived {m.id} line {m.line} {m.where} {m.op}", flush=True)
            if len(results) % 20 == 0:
                print(f"  {len(results)}/{len(todo)}", flush=True)
    finally:
        for w in works:
            shutil.rmtree(w, ignore_errors=True)
    return _report(name, results, equivalent, stale)


def _mutated_source(source: str, name: str, mutant_id: str) -> str:
    tree, found = mutants(source, name)
    for m in found:
        if m.id == mutant_id:
            m.apply()
            return ast.unparse(tree) + "\n"
    raise KeyError(mutant_id)


def _report(name: str, results: list[Result], equivalent: dict[str, str], stale: list[str]) -> dict:
    killed = [r for r in results if r.outcome in ("killed", "timeout")]
    survived = [r for r in results if r.outcome == "survived" and r.mutant.id not in equivalent]
    equiv = [r for r in results if r.outcome == "survived" and r.mutant.id in equivalent]
    wrongly = [r for r in killed if r.mutant.id in equivalent]
    scored = len(results) - len(equiv)
    score = 100.0 * len(killed) / scored if scored else 100.0
    for label, rows in (("SURVIVED", survived), ("equivalent", equiv)):
        for r in rows:
            m = r.mutant
            reason = f"  # {equivalent[m.id]}" if m.id in equivalent else ""
            print(
                f"  {label} {m.id} line {m.line} {m.where} {m.op}: {m.before} -> {m.after}{reason}"
            )
    for r in wrongly:
        print(f"  note: {r.mutant.id} is listed as equivalent but was killed: remove it")
    for s in stale:
        print(f"  note: equivalent {s} matches no mutant any more: remove it")
    print(
        f"{name}: {len(killed)} killed, {len(survived)} survived, {len(equiv)} equivalent "
        f"of {len(results)}: score {score:.0f} %",
        flush=True,
    )
    return {
        "module": name,
        "mutants": len(results),
        "killed": len(killed),
        "survived": len(survived),
        "equivalent": len(equiv),
        "score": score,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mutation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("modules", nargs="*", help="names from bench/mutation.toml (default: all)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="parallel workers (default 1)")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--only", action="append", help="run only this mutant id (repeatable)")
    parser.add_argument(
        "--sample",
        type=float,
        default=1.0,
        help="run a fixed fraction of the mutants, chosen by id (e.g. 0.25)",
    )
    parser.add_argument("--show", action="store_true", help="print each mutant's diff")
    args = parser.parse_args(argv)
    config = tomllib.loads(CONFIG.read_text(encoding="utf-8"))["modules"]
    names = args.modules or list(config)
    unknown = [n for n in names if n not in config]
    if unknown:
        parser.error(f"unknown module {unknown[0]!r}; known: {', '.join(config)}")
    if args.list:
        for n in names:
            _, found = mutants((ROOT / config[n]["path"]).read_text(encoding="utf-8"), n)
            for m in found:
                print(f"{n} {m.id} line {m.line} {m.where} {m.op}: {m.before} -> {m.after}")
        return 0
    only = set(args.only) if args.only else None
    _preload()
    rows = [run_module(n, config[n], args.jobs, only, args.show, args.sample) for n in names]
    print("\n| module | mutants | killed | survived | equivalent | score |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['module']} | {r['mutants']} | {r['killed']} | {r['survived']} | "
            f"{r['equivalent']} | {r['score']:.0f} % |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

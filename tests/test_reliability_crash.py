"""Crash consistency: `tgfeed build` killed with SIGKILL at random file operations,
then run again.

Each trial changes the store (new articles, a new category, a category emptied,
an edited title), kills `tgfeed build` at a random one of its file operations
(open, write — half written —, fsync, rename, unlink, rmdir, mkdir under the
output folder), checks what a web server would publish at that instant, then
restarts the build and checks that it converges to a clean build.

Promises checked after every kill: no published file is partial (each parses as
a whole document), each is its old or its new version, nothing still published
is lost (a .gz sibling may be briefly missing, never stale), the index and OPML link
only to feeds that exist. After the restart:
the output is byte-identical to a clean build and no temp file is left.

The short form (3 kill points) runs by default; ``pytest -m slow`` runs 20.
``TGFEED_CRASH_SEED`` picks the random points (printed on failure).
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tgfeed.app import App
from tgfeed.jobs.feeds import build_feeds

from .conftest import ROOT
from .reliability_support import (
    PartialDocument,
    article,
    check_document,
    linked_feeds,
    published_files,
    temp_files,
)


def run_build(config: Path, out: Path, at: int, count_file: Path | None = None) -> int:
    """`tgfeed build` under the crash hook; its return code (-9 when killed)."""
    env = {k: v for k, v in os.environ.items() if k != "TGFEED_CONFIG"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.crashhook",
            str(out),
            str(at),
            str(count_file or ""),
            "--",
            "--config",
            str(config),
            "build",
            "-q",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=180,
    )
    if done.returncode not in (0, -9):
        raise AssertionError(f"build exited {done.returncode}: {done.stderr}")
    return done.returncode


class Workload:
    """Random changes to the store between builds (our own articles only)."""

    def __init__(self, app: App, rng: random.Random) -> None:
        self.app = app
        self.rng = rng
        self.n = 0
        self.leaves = sorted(
            {c.names for c in app.store.articles.categories(only_used=True) if c.depth == 2}
        )
        self.ours: dict[tuple[str, ...], list[str]] = {}

    def step(self) -> str:
        rng, app = self.rng, self.app
        arts = []
        for _ in range(rng.randint(1, 4)):
            self.n += 1
            arts.append(article(self.n, category=rng.choice(self.leaves)))
        what = [f"{len(arts)} new"]
        if rng.random() < 0.4:
            self.n += 1
            names = ("Chuyên đề", f"Chuyên mục {self.n}")
            arts.append(article(self.n, category=names))
            self.ours[names] = [arts[-1].id]
            what.append("a new category")
        if rng.random() < 0.3 and self.n > 1:
            old = app.store.articles.get(article(rng.randint(1, self.n - 1)).id)
            if old is not None:
                arts.append(dataclasses.replace(old, title=old.title + " (cập nhật)"))
                what.append("an edit")
        app.store.articles.upsert(arts, now=app.now())
        if self.ours and rng.random() < 0.3:
            names = rng.choice(sorted(self.ours))
            for aid in self.ours.pop(names):
                app.store.articles.unpublish(aid, now=app.now())
            what.append("a category emptied")
        return ", ".join(what)


def crash_trials(app: App, tmp_path: Path, points: int, seed: int) -> Counter[str]:
    config = app.config.source_path
    assert config is not None
    out = tmp_path / "public"
    assert build_feeds(app, out).failures == ()
    rng = random.Random(seed)
    work = Workload(app, rng)
    stats: Counter[str] = Counter(dict.fromkeys(BAD, 0))
    for trial in range(points):
        what = work.step()
        ref_dir = tmp_path / f"ref{trial}"
        ref = published_files(build_feeds(app, ref_dir).output_dir)
        shutil.rmtree(ref_dir)
        before = published_files(out)

        # How many file operations does this build make? Count them on a copy.
        probe = tmp_path / "probe"
        shutil.copytree(out, probe, symlinks=True)
        count_file = tmp_path / "count"
        assert run_build(config, probe, 0, count_file) == 0
        total = int(count_file.read_text())
        shutil.rmtree(probe)
        at = rng.randint(1, total)

        code = run_build(config, out, at)
        stats["killed" if code == -9 else "finished before the kill point"] += 1
        label = f"trial {trial} (seed {seed}, {what}, killed at op {at}/{total})"
        now = published_files(out)
        for rel, data in now.items():
            try:
                check_document(rel, data)
            except PartialDocument as exc:
                stats["partial"] += 1
                print(f"{label}: {exc}")
            if data not in (before.get(rel), ref.get(rel)):
                stats["neither old nor new"] += 1
                print(f"{label}: {rel} is neither its old nor its new version")
        # A .gz sibling may be missing for an instant (the file is then served
        # uncompressed), never stale: one present decompresses to its file.
        lost = {rel for rel in (set(before) & set(ref)) - set(now) if not rel.endswith(".gz")}
        stats["lost"] += len(lost)
        for rel, data in now.items():
            if rel.endswith(".gz") and gzip.decompress(data) != now.get(rel[:-3]):
                stats["neither old nor new"] += 1
                print(f"{label}: {rel} does not decompress to its file")
        dangling = linked_feeds(out) - set(now)
        stats["dangling links"] += len(dangling)
        stats["temp files left by the kill"] += len(temp_files(out))
        if lost or dangling:
            print(f"{label}: lost {sorted(lost)}, dangling {sorted(dangling)}")

        assert run_build(config, out, 0) == 0  # the restart
        after = published_files(out)
        if after != ref:
            stats["restart not converged"] += 1
            print(f"{label}: after the restart {sorted(set(after) ^ set(ref))} differ")
        stats["temp files after the restart"] += len(temp_files(out))
        stats["trials"] += 1
    return stats


BAD = ("partial", "neither old nor new", "lost", "dangling links", "restart not converged")


@pytest.mark.parametrize("points", [3, pytest.param(20, marks=pytest.mark.slow)])
def test_sigkill_during_build_never_publishes_a_partial_feed(
    app_factory: Callable[..., App], tmp_path: Path, points: int
) -> None:
    seed = int(os.environ.get("TGFEED_CRASH_SEED") or random.SystemRandom().randrange(10**6))
    app = app_factory(samples=True)
    stats = crash_trials(app, tmp_path, points, seed)
    print(f"\nbuild crash figures (seed {seed}): {dict(sorted(stats.items()))}")
    assert stats["trials"] == points
    assert {k: stats[k] for k in BAD} == dict.fromkeys(BAD, 0), f"seed {seed}: {stats}"
    assert stats["temp files after the restart"] == 0, f"seed {seed}: {stats}"
    assert stats["killed"] >= 1

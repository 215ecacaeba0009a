"""Two processes racing to create the signing key file end with one key (issue 17).

Kept apart from test_tokens_pins.py: starting processes is slow, so the mutation
run of tokens.py uses the deterministic loser test there instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tgfeed

from .conftest import write_config

_RACER = """
import sys, time
from pathlib import Path
from tgfeed.loader import load
from tgfeed.tokens import load_key
config = load(Path(sys.argv[1]))
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
print(load_key(config).hex())
"""


def test_two_processes_racing_create_one_key(tmp_path: Path) -> None:
    """Processes that start together on first run all end with the same key."""
    src = str(Path(tgfeed.__file__).resolve().parents[1])  # the code under test
    env = {**os.environ, "PYTHONPATH": src}
    for round_ in range(2):
        where = tmp_path / f"r{round_}"
        where.mkdir()
        config = write_config(where)
        go = where / "go"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _RACER, str(config), str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(4)
        ]
        go.touch()
        outs = [p.communicate(timeout=60) for p in procs]
        assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
        keys = {out.strip() for out, _ in outs}
        on_disk = (where / "data" / "secret.key").read_text(encoding="ascii").strip()
        assert keys == {on_disk} and len(on_disk) == 64
        assert (where / "data" / "secret.key").stat().st_mode & 0o777 == 0o600
        assert sorted(p.name for p in (where / "data").iterdir()) == ["secret.key"]

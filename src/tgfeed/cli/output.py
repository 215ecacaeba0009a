"""How commands print, one way for all of them: tables that keep every value
whole when stdout is not a terminal (logs, cron mail, pipes), ``--json``,
local times with their offset, counted nouns, and progress bars that show
total, rate and ETA on a terminal and nothing anywhere else."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from ..text import iso_local
from .base import console

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 problem``, ``3 problems``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def local(value: datetime | str | None, tz: ZoneInfo, *, empty: str = "—") -> str:
    """``2026-11-30 07:00+07:00``: local time with its offset, to the minute."""
    if value is None or value == "":
        return empty
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    text = iso_local(when, tz)  # 2026-11-30T07:00:00+07:00
    return f"{text[:10]} {text[11:16]}{text[19:]}"


def emit_json(data: Any) -> None:
    """JSON on stdout: UTF-8, indented, datetimes as ISO 8601 with their offset."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_default))


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat()
    return str(obj)


def table(
    columns: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None
) -> None:
    """A table: rich on a terminal; elsewhere plain columns, every value whole."""
    if console.is_terminal:
        t = Table(*columns, box=None, title=title)
        for row in rows:
            t.add_row(*(escape(cell) for cell in row))
        console.print(t)
        return
    lines = [list(columns), *[[c.replace("\n", ", ") for c in row] for row in rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    if title:
        click.echo(title)
    for line in lines:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


class RateColumn(ProgressColumn):
    """Items per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "", style="progress.data.speed")


@contextlib.contextmanager
def progress(
    description: str, total: int | None, *, by_bytes: bool = False, quiet: bool = False
) -> Iterator[Callable[..., None]]:
    """A progress bar with total, rate and ETA on a terminal; silent elsewhere.

    Yields ``update(advance=1, total=None, completed=None)``."""
    counter = (DownloadColumn(), TransferSpeedColumn()) if by_bytes else (MofNCompleteColumn(),)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        *counter,
        *(() if by_bytes else (RateColumn(),)),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=total)

        def update(
            advance: int = 1, *, total: int | None = None, completed: int | None = None
        ) -> None:
            if total is not None:
                bar.update(task, total=total)
            if completed is not None:
                bar.update(task, completed=completed)
            else:
                bar.advance(task, advance)

        yield update


class ByteEstimate:
    """Bytes read so far, for an import's progress bar: a page file counts its size
    when it is done; an item of a JSON Lines or CSV file (labelled ``path:line``)
    counts its share of the file (size / lines), so the bar moves by bytes."""

    def __init__(self, files: Sequence[Path]) -> None:
        self.sizes: dict[str, tuple[int, int]] = {}
        for path in files:
            try:
                size = path.stat().st_size
                lines = _count_lines(path) if path.suffix in (".jsonl", ".csv") else 1
            except OSError:
                continue
            self.sizes[str(path)] = (size, max(1, lines))
        self.total = sum(size for size, _ in self.sizes.values())

    def of(self, label: str) -> int:
        name, _, line = label.rpartition(":")
        key = name if line.isdigit() and name in self.sizes else label
        size, lines = self.sizes.get(key, (0, 1))
        return size // lines


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
    return n

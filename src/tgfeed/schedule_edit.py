"""Editing ``[schedule]`` in the config file from the console, the way an
administrator would by hand: tomlkit keeps every comment and the layout, the
whole file is validated (every problem with its dotted path) before anything is
written, the previous file is kept as a dated backup, and the new one replaces
it atomically — so the running service's live reload picks it up, and hand
edits keep working. The TOML file stays the source of truth.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import tomlkit
import tomlkit.exceptions
from tomlkit.items import Table

from .config import Config
from .errors import ConfigError
from .loader import loads


@dataclass(frozen=True, slots=True)
class JobEdit:
    """One job's trigger and switch as the form gives them."""

    name: str
    trigger: str  # "cron" or "every"
    value: str
    enabled: bool


def _parse(text: str, what: str) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(f"{what}: not valid TOML: {exc}") from None


def section_text(text: str) -> str:
    """The ``[schedule]`` part of a config file's text (its tables and comments)."""
    doc = _parse(text, "config")
    if "schedule" not in doc:
        return ""
    part = tomlkit.document()
    part.add("schedule", doc["schedule"])
    return tomlkit.dumps(part).strip() + "\n"


def replace_section(text: str, new_section: str) -> str:
    """``text`` with its ``[schedule]`` replaced by ``new_section`` (which may hold
    only ``[schedule…]`` tables); everything else is left byte for byte."""
    part = _parse(new_section, "schedule")
    others = [k for k in part if k != "schedule"]
    if others:
        raise ConfigError(
            f"{others[0]}: only the [schedule] section can be edited here",
            hint="edit the other sections in the config file",
        )
    doc = _parse(text, "config")
    if "schedule" in part:
        doc["schedule"] = part["schedule"]
    elif "schedule" in doc:
        del doc["schedule"]
    return tomlkit.dumps(doc)


def _job_table(doc: tomlkit.TOMLDocument, name: str, kind: str) -> Table:
    if "schedule" not in doc:
        doc["schedule"] = tomlkit.table(is_super_table=True)
    schedule = doc["schedule"]
    assert isinstance(schedule, Table)
    if "jobs" not in schedule:
        schedule["jobs"] = tomlkit.table(is_super_table=True)
    jobs = schedule["jobs"]
    assert isinstance(jobs, Table)
    if name not in jobs:
        table = tomlkit.table()
        table["kind"] = kind
        jobs[name] = table
    job = jobs[name]
    assert isinstance(job, Table)
    return job


def edit_job(text: str, config: Config, edit: JobEdit) -> str:
    """``text`` with one job's trigger and ``enabled`` changed (a job that came from
    the built-in defaults gets its own table)."""
    current = config.schedule.jobs.get(edit.name)
    if current is None:
        raise ConfigError(f"schedule.jobs.{edit.name}: no such job")
    doc = _parse(text, "config")
    job = _job_table(doc, edit.name, current.kind)
    other = "every" if edit.trigger == "cron" else "cron"
    if other in job:
        del job[other]
    job[edit.trigger] = edit.value.strip()
    if edit.enabled and "enabled" in job:
        del job["enabled"]
    elif not edit.enabled:
        job["enabled"] = False
    return tomlkit.dumps(doc)


def validate(text: str, path: Path) -> Config:
    """The config ``text`` would give; ConfigError with every problem otherwise."""
    return loads(text.encode("utf-8"), source=path)


def save(path: Path, text: str, *, now: datetime, tz: ZoneInfo) -> Path:
    """Keep the current file as ``<name>.<YYYYmmdd-HHMMSS>.bak`` beside it, then
    replace it atomically with ``text`` (same permissions). Returns the backup."""
    stamp = now.astimezone(tz).strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.{stamp}.bak")
    shutil.copy2(path, backup)
    mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return backup

"""Loading the configuration: TOML syntax, the schema (``config``) and the checks
only the edges can make (a cron expression the scheduler accepts), every problem
reported at once with its dotted path. ``config`` stays schema-only and imports
no edge; this module is where the two meet."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .config import DEFAULT_FILE, ENV_VAR, Config, describe_error
from .errors import ConfigError
from .scheduler.triggers import validate_cron


def _cron_problems(data: dict[str, Any]) -> list[str]:
    """Cron expressions of the right shape that the scheduler refuses (the schema
    checks the shape), read from the parsed TOML so they are reported together
    with the schema's problems."""
    schedule = data.get("schedule")
    jobs = schedule.get("jobs") if isinstance(schedule, dict) else None
    problems = []
    for name, job in sorted(jobs.items()) if isinstance(jobs, dict) else ():
        expr = job.get("cron") if isinstance(job, dict) else None
        if not isinstance(expr, str) or len(expr.split()) != 5:
            continue
        try:
            validate_cron(expr)
        except ValueError as exc:
            problems.append(f"schedule.jobs.{name}.cron: invalid cron {expr!r}: {exc}")
    return problems


def _after_problems(config: Config) -> list[str]:
    """``after = [...]`` must name other jobs, without a cycle."""
    jobs = config.schedule.jobs
    problems = []
    for name, job in sorted(jobs.items()):
        for dep in job.after:
            if dep == name:
                problems.append(f"schedule.jobs.{name}.after: a job cannot run after itself")
            elif dep not in jobs:
                known = ", ".join(sorted(set(jobs) - {name})) or "none"
                problems.append(f"schedule.jobs.{name}.after: no job named {dep!r} (jobs: {known})")
            elif name in jobs[dep].after:
                problems.append(f"schedule.jobs.{name}.after: {dep!r} runs after {name!r} too")
    return problems


def validate(data: dict[str, Any], *, source: Path | None = None) -> Config:
    """Validate parsed TOML; raise ConfigError listing every problem."""
    where = str(source) if source else "config"
    problems = []
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems = [describe_error(e) for e in exc.errors()]
    else:
        problems = _after_problems(config)
    problems += _cron_problems(data)
    if problems:
        raise ConfigError(
            f"{where}: {len(problems)} problem(s): " + "; ".join(problems),
            problems=problems,
            hint="fix each key named above; `tgfeed check` lists them",
        )
    return config.model_copy(update={"source_path": source})


def load(path: Path | None = None) -> Config:
    """Load ``path``, else ``$TGFEED_CONFIG``, else ``./config.toml``, else defaults."""
    explicit = path is not None or bool(os.environ.get(ENV_VAR))
    if path is None:
        path = Path(os.environ.get(ENV_VAR) or DEFAULT_FILE)
    if not path.exists():
        if explicit:
            raise ConfigError(
                f"{path}: config file not found",
                hint="give an existing file with --config, or run without one for the defaults",
            )
        return Config()
    return load_file(path)


def load_file(path: Path) -> Config:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return loads(raw, source=path.resolve())


def loads(raw: bytes | str, *, source: Path | None = None) -> Config:
    where = str(source) if source else "config"
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{where}: not UTF-8 (byte {exc.start})", hint="save the file as UTF-8"
            ) from None
    else:
        text = raw
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = f":{m[1]}:{m[2]}" if m else ""
        problem = f"{where}{line}: TOML syntax error: {str(exc).split(' (at ')[0]}"
        raise ConfigError(problem, problems=[problem], hint="fix the TOML syntax") from None
    return validate(data, source=source)

"""`tgfeed check`: what else can be wrong once the config itself validates."""

from __future__ import annotations

from collections.abc import Callable

from ..config import Config
from ..errors import ConfigError

Check = Callable[[Config], tuple[list[str], list[str]]]


def run_checks(config: Config) -> tuple[list[str], list[str]]:
    """Problems (empty when fine) and summary lines."""
    problems: list[str] = []
    lines = [
        f"site: {config.site.title} <{config.site.url}>, served at {config.site.public_url}",
        f"store: {config.resolve(config.store.path)}",
        f"feeds: {config.resolve(config.feeds.output_dir)} ({config.feeds.items} items, "
        f"{config.feeds.content} content)",
        f"mail: {config.mail.backend}"
        + (
            f" via {config.mail.smtp.host}:{config.mail.smtp.port}"
            if config.mail.backend == "smtp"
            else f" to {config.resolve(config.mail.outbox_dir)}"
        ),
        f"categories configured: {len(config.categories)}; sources: {len(config.sources)}",
    ]
    secrets = [
        (config.mail.smtp.password, config.mail.backend == "smtp"),
        (config.web.api_token, True),
        (config.web.admin_token, True),
    ]
    for read, wanted in secrets:
        if wanted:
            try:
                read()
            except ConfigError as exc:
                problems.append(exc.message)
    problems += _templates(config)
    lines += _schedule(config)
    for check in EXTRA_CHECKS:
        p, extra = check(config)
        problems += p
        lines += extra
    return problems, lines


# Other concerns (templates, schedule) append their checks here.
EXTRA_CHECKS: list[Check] = []


def _templates(config: Config) -> list[str]:
    from ..errors import RenderError
    from ..templating import check_templates, make_env

    tdir = config.resolve(config.templates_dir) if config.templates_dir else None
    try:
        return check_templates(make_env(tdir, config.site.tz))
    except RenderError as exc:
        return [f"templates_dir: {exc.message}"]


def _schedule(config: Config) -> list[str]:
    """Each job with its next three fire times in local time."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from ..scheduler.triggers import describe, next_fire_times

    tz = ZoneInfo(config.schedule.timezone)
    now = datetime.now(timezone.utc)
    lines = [f"schedule ({config.schedule.timezone}):"]
    for name, job in sorted(config.schedule.jobs.items()):
        if not job.enabled:
            lines.append(f"  {name}: {job.kind}, {describe(job)} (disabled)")
            continue
        times = ", ".join(
            t.astimezone(tz).strftime("%a %Y-%m-%d %H:%M") for t in next_fire_times(job, tz, now)
        )
        lines.append(f"  {name}: {job.kind}, {describe(job)}; next {times}")
    return lines

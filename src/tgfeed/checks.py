"""What `tgfeed check` and the console's Lịch screen report once the config itself
validates: secrets that can be read, templates that compile, each job's next runs
(and a warning for an ``after`` that names a disabled job), the digest's keys.
Not a CLI module: the web layer uses it too."""

from __future__ import annotations

from .config import Config
from .errors import ConfigError
from .private import check_private
from .tokens import load_key


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
    p, extra = _digest(config)
    return problems + p, lines + extra


def _templates(config: Config) -> list[str]:
    from .errors import RenderError
    from .templating import check_templates, make_env

    tdir = config.resolve(config.templates_dir) if config.templates_dir else None
    try:
        return check_templates(make_env(tdir, config.site.tz))
    except RenderError as exc:
        return [f"templates_dir: {exc.message}"]


def _schedule(config: Config) -> list[str]:
    """Each job with its next three fire times in local time."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from .scheduler.triggers import describe, next_fire_times

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
    return lines + after_warnings(config)


def after_warnings(config: Config) -> list[str]:
    """A job whose ``after`` names a disabled job runs without it (a disabled job is
    never run, not even as a dependency): one warning line each, not a problem."""
    jobs = config.schedule.jobs
    return [
        f"warning: schedule.jobs.{name}.after: {dep!r} is disabled (enabled = false), "
        f"so {name} runs without it; enable {dep} or remove it from {name}'s after"
        for name, job in sorted(jobs.items())
        for dep in job.after
        if dep in jobs and not jobs[dep].enabled
    ]


def _digest(config: Config) -> tuple[list[str], list[str]]:
    """The digest's secrets and keys can be read (nothing is created)."""
    problems: list[str] = []
    sec = config.security
    if sec.secret_env or sec.secret_file:
        try:
            load_key(config)
        except ConfigError as exc:
            problems.append(exc.message)
    dkim = config.mail.dkim
    if dkim is not None:
        path = config.resolve(dkim.key_file)
        try:
            check_private(path, "mail.dkim.key_file")
            head = path.read_bytes()[:64]
        except ConfigError as exc:
            problems.append(exc.message)
        except OSError as exc:
            problems.append(f"mail.dkim.key_file: cannot read {path}: {exc.strerror}")
        else:
            if b"PRIVATE KEY" not in head:
                problems.append(f"mail.dkim.key_file: {path} is not a PEM private key")
    d = config.digest
    lines = [
        f"digest: {'on' if d.enabled else 'off'}; sections "
        + ", ".join(s.title for s in d.sections)
        + f"; up to {d.max_items} articles; from {config.mail.from_address}"
        + (f", DKIM {dkim.selector}._domainkey.{dkim.domain}" if dkim else "")
    ]
    if d.approval:
        lines.append(
            f"digest approval: by {', '.join(d.approvers)}"
            + (
                f"; at {d.approval_deadline} nobody having approved: {d.on_deadline}"
                if d.approval_deadline
                else "; no deadline"
            )
        )
    return problems, lines

"""The service and its schedule: serve, jobs, run, status."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import sys
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.markup import escape

from ..app import App
from ..errors import TgfeedError
from ..jobs.status import collect_status, schedule_status
from ..scheduler.runner import run_job
from .base import cli, console
from .context import get_app, get_config, pass_app
from .digest_run import not_sent
from .output import emit_json, json_option, local, plural, table


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default: [web] host).")
@click.option("--port", default=None, type=int, help="Port (default: [web] port).")
@click.option("--no-scheduler", is_flag=True, help="Serve HTTP only; schedule nothing.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, no_scheduler: bool) -> None:
    """Run the service: web server and scheduler in one process (until SIGTERM/SIGINT)."""
    from ..web.server import serve as run_server

    config = get_config(ctx)
    host = host or config.web.host
    port = port or config.web.port
    check_port(host, port)  # before the store, the scheduler or uvicorn start
    app = get_app(ctx)
    service_logging()
    console.print(
        f"tgfeed serving on http://{host}:{port}/"
        + (" (no scheduler)" if no_scheduler else " with the scheduler")
    )
    run_server(app, host, port, scheduler=not no_scheduler)


def check_port(host: str, port: int) -> None:
    """TgfeedError (one line and a hint) when ``host:port`` cannot be listened on."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise TgfeedError(
            f"{host}: cannot listen there: {exc.strerror}",
            hint="give --host an address of this machine, e.g. 127.0.0.1",
        ) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            busy = exc.errno == errno.EADDRINUSE
            raise TgfeedError(
                f"{host}:{port}: cannot listen: {exc.strerror}",
                hint="another process is using the port (is tgfeed already running?); "
                "stop it, or choose another with --port or [web] port"
                if busy
                else "choose another address or port (--host, --port, [web] host/port)",
            ) from None


QUIET_LOGGERS = ("watchfiles", "apscheduler")


def service_logging() -> None:
    """The long-running service logs what it does (INFO) unless -v asked for DEBUG;
    the libraries' own chatter ("1 change detected", "Adding job tentatively") is
    left out — tgfeed logs what was reloaded and rescheduled itself."""
    root = logging.getLogger()
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
    if root.level > logging.DEBUG:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def _last(last: dict[str, Any] | None, tz: ZoneInfo) -> str:
    if not last:
        return "—"
    text = f"{last['outcome']} {local(last['started_at'], tz)}"
    return text + (f": {last['error']}" if last.get("error") else "")


@cli.command()
@json_option
@pass_app
def jobs(app: App, as_json: bool) -> None:
    """Each scheduled job: its trigger, next fire times (local time) and last outcome."""
    status = schedule_status(app)
    if as_json:
        emit_json(status["jobs"])
        return
    tz = ZoneInfo(status["timezone"])
    console.print(f"timezone {status['timezone']}; scheduler: {status['role']}", markup=False)
    off = {job["name"] for job in status["jobs"] if not job["enabled"]}

    def after(names: list[str]) -> str:  # a disabled dependency is not run: say so
        return ", ".join(n + (" (off: not run)" if n in off else "") for n in names)

    table(
        ("job", "kind", "trigger", "next fire times", "last run"),
        [
            (
                job["name"] + ("" if job["enabled"] else " (off)"),
                job["kind"],
                job["trigger"] + (f"\nafter {after(job['after'])}" if job.get("after") else ""),
                "\n".join(local(t, tz) for t in job["next"]) or "—",
                _last(job["last"], tz),
            )
            for job in status["jobs"]
        ],
    )


def _summary_text(summary: dict[str, Any] | None) -> str:
    if not summary:
        return ""
    parts = []
    for key, value in summary.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in value.items())
            parts.append(f"{key}: {inner}")
        elif value not in (None, "", 0, False):
            parts.append(f"{key.replace('_', ' ')} {value}")
    return "; ".join(parts)


@cli.command("run")
@click.argument("job")
@click.option("--dry-run", is_flag=True, help="Do everything except send or write (not recorded).")
@json_option
@pass_app
def run_(app: App, job: str, dry_run: bool, as_json: bool) -> None:
    """Run one scheduled job now (recorded like a scheduled run; a dry run is not).

    \b
    Exit status: 0 done (a digest: the week is sent, now or before), 1 an error.
    A digest job whose week is not sent prints one line (why, what to do) and exits
      3 awaiting approval (the draft is with the approvers),
      4 held (stale sources, or nobody approved by the deadline),
      5 skipped (no articles, no active subscriber, or the digest disabled).
    A dry run exits 0 or 1.
    """
    outcome = asyncio.run(
        run_job(app, job, trigger="manual", dry_run=dry_run, scheduled_at=app.now())
    )
    unsent = None
    if not dry_run and app.config.schedule.jobs[job].kind == "send_digest":
        unsent = not_sent(app, job, outcome)
    if as_json:
        emit_json(
            {
                "job": job,
                "outcome": outcome.outcome,
                "dry_run": dry_run,
                "recorded": not dry_run,
                "summary": outcome.summary,
                "error": outcome.error,
            }
        )
    elif outcome.outcome == "failed":
        console.print(f"[red]{job} failed[/]: {escape(outcome.error or '')}", highlight=False)
    elif unsent is not None:
        console.print(unsent[1], markup=False, highlight=False, soft_wrap=True)
    else:
        tail = " (dry run, not recorded)" if dry_run else ""
        text = _summary_text(outcome.summary)
        console.print(
            f"{job} {outcome.outcome}{tail}" + (f": {text}" if text else ""),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if outcome.outcome == "failed":
        sys.exit(1)
    if unsent is not None:
        sys.exit(unsent[0])


@cli.command()
@json_option
@pass_app
def status(app: App, as_json: bool) -> None:
    """Last runs, failures, the last digest with its deliveries, sources, ingest failures."""
    st = collect_status(app)
    if as_json:
        emit_json(st)
        return
    tz = app.tz
    sched = st["schedule"]
    console.print(
        f"{local(st['now'], tz)} · {st['articles']} articles · scheduler: {sched['role']}"
        + (f" ({sched['holder']})" if sched["holder"] else ""),
        markup=False,
    )
    table(
        ("job", "trigger", "next", "last run"),
        [
            (
                j["name"],
                j["trigger"],
                local(j["next"][0] if j["next"] else None, tz),
                _last(j["last"], tz),
            )
            for j in sched["jobs"]
        ],
        title="jobs",
    )
    table(
        ("job", "trigger", "scheduled", "outcome", "summary / error"),
        [
            (
                r["job"],
                r["trigger"],
                local(r["scheduled_at"], tz),
                r["outcome"],
                r["error"] or _summary_text(r["summary"]),
            )
            for r in st["recent_runs"][:10]
        ],
        title="recent runs",
    )
    _status_tail(st, tz)


def _status_tail(st: dict[str, Any], tz: ZoneInfo) -> None:
    d = st["digest"]
    if d:
        c = d["deliveries"]
        console.print(
            f"digest {d['week']}: {d['status']} — sent {c.get('sent', 0)}, "
            f"failed {c.get('failed', 0)}, pending {c.get('pending', 0)}",
            markup=False,
        )
    else:
        console.print("digest: none sent yet")
    for s in st["sources"]:
        console.print(
            f"source {s['name']} ({s['kind']}): last run {local(s['last_run_at'], tz)}, "
            f"{plural(s['consecutive_failures'], 'failure')} in a row"
            + (f": {s['last_error']}" if s["last_error"] else ""),
            markup=False,
            soft_wrap=True,
        )
    if st["inbox"]:
        c = st["inbox"]["counts"]
        console.print(
            f"inbox: {c['unsubscribe']} unsubscribe request(s), {c['bounce-hard']} hard and "
            f"{c['bounce-soft']} soft bounce(s), {c['other'] + c['report']} other, "
            f"{c['invalid']} unreadable; last {st['inbox']['last_processed_at'] or '—'}",
            markup=False,
        )
    for f in st["ingest"]["failures"][:5]:
        console.print(f"ingest failure: {f['item']}: {f['reason']}", markup=False, soft_wrap=True)
    hub = st.get("websub")
    if hub:
        c = hub["counts"]
        console.print(
            f"websub {hub['hub']}: sent {c['sent']}, pending {c['pending']}, failed {c['failed']}",
            markup=False,
            soft_wrap=True,
        )
        for n in hub["recent"][:5]:
            console.print(
                f"  {n['status']} {n['topic']} ({n['attempts']} attempt(s))"
                + (f": {n['last_error']}" if n["last_error"] else ""),
                markup=False,
                soft_wrap=True,
            )

"""The service and its schedule: serve, jobs, run, status."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

import click
from rich.table import Table

from ..app import App
from ..jobs.status import collect_status, schedule_status
from ..scheduler.runner import run_job
from .base import cli, console, pass_app


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default: [web] host).")
@click.option("--port", default=None, type=int, help="Port (default: [web] port).")
@click.option("--no-scheduler", is_flag=True, help="Serve HTTP only; schedule nothing.")
@pass_app
def serve(app: App, host: str | None, port: int | None, no_scheduler: bool) -> None:
    """Run the service: web server and scheduler in one process (until SIGTERM/SIGINT)."""
    from ..web.server import serve as run_server

    service_logging()
    host = host or app.config.web.host
    port = port or app.config.web.port
    console.print(
        f"tgfeed serving on http://{host}:{port}/"
        + (" (no scheduler)" if no_scheduler else " with the scheduler")
    )
    run_server(app, host, port, scheduler=not no_scheduler)


def service_logging() -> None:
    """The long-running service logs what it does (INFO) unless -v asked for DEBUG."""
    root = logging.getLogger()
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)


def _last(last: dict[str, Any] | None) -> str:
    if not last:
        return "—"
    text = f"{last['outcome']} {last['started_at'][:16]}"
    return text + (f": {last['error']}" if last.get("error") else "")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def jobs(app: App, as_json: bool) -> None:
    """Each scheduled job: its trigger, next fire times (local time) and last outcome."""
    status = schedule_status(app)
    if as_json:
        click.echo(json.dumps(status["jobs"], ensure_ascii=False, indent=2, default=str))
        return
    table = Table("job", "kind", "trigger", "next fire times", "last run", box=None)
    for job in status["jobs"]:
        after = job.get("after") or []
        table.add_row(
            job["name"] + ("" if job["enabled"] else " (off)"),
            job["kind"],
            job["trigger"] + (f"\nafter {', '.join(after)}" if after else ""),
            "\n".join(job["next"]) or "—",
            _last(job["last"]),
        )
    console.print(f"timezone {status['timezone']}; scheduler: {status['role']}")
    console.print(table)


@cli.command("run")
@click.argument("job")
@click.option("--dry-run", is_flag=True, help="Do everything except send or write.")
@pass_app
def run_(app: App, job: str, dry_run: bool) -> None:
    """Run one scheduled job now (recorded like a scheduled run)."""
    outcome = asyncio.run(
        run_job(app, job, trigger="manual", dry_run=dry_run, scheduled_at=app.now())
    )
    summary = (
        json.dumps(outcome.summary, ensure_ascii=False, default=str) if outcome.summary else ""
    )
    if outcome.outcome == "failed":
        console.print(f"[red]{job} failed[/]: {outcome.error}", highlight=False)
        sys.exit(1)
    console.print(
        f"{job} {outcome.outcome}{' (dry run)' if dry_run else ''} {summary}", markup=False
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def status(app: App, as_json: bool) -> None:
    """Last runs, failures, the last digest with its deliveries, sources, ingest failures."""
    st = collect_status(app)
    if as_json:
        click.echo(json.dumps(st, ensure_ascii=False, indent=2, default=str))
        return
    sched = st["schedule"]
    console.print(
        f"{st['now']} · {st['articles']} articles · scheduler: {sched['role']}"
        + (f" ({sched['holder']})" if sched["holder"] else "")
    )
    table = Table("job", "trigger", "next", "last run", box=None, title="jobs")
    for job in sched["jobs"]:
        table.add_row(
            job["name"], job["trigger"], job["next"][0] if job["next"] else "—", _last(job["last"])
        )
    console.print(table)
    runs = Table(
        "job", "trigger", "scheduled", "outcome", "summary / error", box=None, title="recent runs"
    )
    for r in st["recent_runs"][:10]:
        runs.add_row(
            r["job"],
            r["trigger"],
            (r["scheduled_at"] or "")[:16],
            r["outcome"],
            r["error"] or json.dumps(r["summary"], ensure_ascii=False)[:80],
        )
    console.print(runs)
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
            f"source {s['name']} ({s['kind']}): last run {s['last_run_at'] or '—'}, "
            f"{s['consecutive_failures']} failure(s) in a row"
            + (f": {s['last_error']}" if s["last_error"] else ""),
            markup=False,
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
        console.print(f"ingest failure: {f['item']}: {f['reason']}", markup=False)

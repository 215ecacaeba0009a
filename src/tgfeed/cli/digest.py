"""Commands of the digest concern: `tgfeed digest preview|send|status`, and the
demo's digest step."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ..app import App
from ..config import Config
from ..errors import ConfigError
from ..jobs.digest import DigestResult, check_week, preview_digest, send_digest
from ..private import check_private
from ..text import format_vi_datetime, last_complete_week
from ..tokens import load_key
from .base import cli, console, pass_app
from .checks import EXTRA_CHECKS
from .demo import DEMO_STEPS

DEMO_WEEK = "2026-W48"
DEMO_SUBSCRIBER = "ban.doc@example.vn"

_WEEK_HELP = "ISO week like 2026-W48 (default: the last complete week)."


@cli.group()
def digest() -> None:
    """The weekly digest: preview it, send it, see how delivery went."""


@digest.command()
@click.option("--week", help=_WEEK_HELP)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("digest-preview"),
    show_default=True,
    help="Folder for the .html, .txt and .eml files.",
)
@click.option("--open", "open_", is_flag=True, help="Open the HTML in a browser.")
@pass_app
def preview(app: App, week: str | None, out_dir: Path, open_: bool) -> None:
    """Render a week's digest to files without sending anything."""
    paths = preview_digest(app, week, out_dir)
    for path in paths:
        console.print(f"wrote {path}", soft_wrap=True)
    if open_:
        click.launch(str(paths[0].resolve()))


def describe(result: DigestResult) -> str:
    head = f"{result.week}: "
    if result.status == "test":
        return head + f"test message sent ({result.subject})"
    if result.status == "skipped":
        return head + "no articles this week; nothing sent (recorded as skipped)"
    if result.status == "disabled":
        return head + "the digest is disabled ([digest] enabled = false)"
    if result.status == "dry-run":
        return (
            head + f"dry run: {result.articles} articles, would go to {result.recipients} "
            f"subscribers — {result.subject}"
        )
    counts = (
        f"{result.sent} sent, {result.failed} failed, {result.pending} pending"
        + (f", {result.skipped} skipped" if result.skipped else "")
        + f" of {result.recipients}"
    )
    if result.status == "already-done":
        return head + f"already sent ({counts}); a week is sent only once"
    line = head + f"{result.status}: {result.sent_now} sent now; {counts}"
    if result.error:
        line += f"\nstopped: {result.error}"
    return line


@digest.command()
@click.option("--week", help=_WEEK_HELP)
@click.option("--dry-run", is_flag=True, help="Render and count recipients; send nothing.")
@click.option("--to", "to", metavar="ADDR", help="Send one test copy to ADDR (not the real run).")
@pass_app
def send(app: App, week: str | None, dry_run: bool, to: str | None) -> None:
    """Send (or resume) a week's digest to every active subscriber.

    A week is sent once: running it again resumes pending recipients only.
    Exits 1 when recipients are still pending (run it again to resume).
    """
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal or dry_run or to is not None,
    ) as progress:
        task: TaskID | None = None

        def on_progress(done: int, total: int) -> None:
            nonlocal task
            if task is None:
                task = progress.add_task(f"sending {week or 'digest'}", total=total)
            progress.update(task, completed=done, total=total)

        result = asyncio.run(
            send_digest(app, week=week, dry_run=dry_run, to=to, progress=on_progress)
        )
    console.print(describe(result), highlight=False, soft_wrap=True)
    if result.status == "incomplete":
        sys.exit(1)


@digest.command()
@click.option("--week", help="One week in detail (default: the recent weeks).")
@pass_app
def status(app: App, week: str | None) -> None:
    """Recent digests and their delivery counts; with --week, its failures too."""
    ms = app.store.mail
    if week is None:
        table = Table("tuần", "trạng thái", "tin", "người nhận", "đã gửi", "lỗi", "lúc", box=None)
        records = ms.digests(limit=12)
        for r in records:
            counts = ms.delivery_counts(r.id)
            table.add_row(
                r.week,
                r.status,
                str(r.article_count),
                str(r.recipients),
                str(counts["sent"]),
                str(counts["failed"]),
                format_vi_datetime(r.created_at, app.tz),
            )
        if not records:
            console.print(
                f"no digest sent yet; the next is {last_complete_week(app.now(), app.tz)}"
            )
            return
        console.print(table)
        subs = ms.count_subscribers()
        console.print(
            "subscribers: " + ", ".join(f"{n} {st}" for st, n in subs.items()),
            highlight=False,
        )
        return
    week = check_week(week, app)
    record = ms.digest(week)
    if record is None:
        console.print(f"{week}: not sent yet")
        return
    counts = ms.delivery_counts(record.id)
    console.print(f"{record.week} [{record.status}] {record.subject}", soft_wrap=True)
    console.print(
        f"created {format_vi_datetime(record.created_at, app.tz)}"
        + (
            f", finished {format_vi_datetime(record.finished_at, app.tz)}"
            if record.finished_at
            else ""
        )
        + f"; {record.article_count} articles; recipients {record.recipients}: "
        + ", ".join(f"{n} {s}" for s, n in counts.items()),
        highlight=False,
    )
    for status_ in ("failed", "pending"):
        rows = ms.deliveries(record.id, status=status_, limit=50)
        if rows:
            table = Table("email", "lần thử", "lỗi cuối", box=None, title=status_)
            for row in rows:
                table.add_row(row.email, str(row.attempts), row.last_error or "")
            console.print(table)


def demo_digest(app: App) -> None:
    """`tgfeed demo` step: send the latest sample week to the outbox for a demo subscriber."""
    ms = app.store.mail
    ms.add_subscriber(
        DEMO_SUBSCRIBER, now=app.now(), name="Bạn đọc thử", status="active", origin="demo"
    )
    result = asyncio.run(send_digest(app, week=DEMO_WEEK))
    console.print(f"digest: {describe(result)}", highlight=False, soft_wrap=True)
    if app.config.mail.backend == "outbox":
        outbox = app.path(app.config.mail.outbox_dir)
        console.print(f"  the messages are in the Maildir {outbox / 'new'}", soft_wrap=True)
    base = app.config.site.public_url.rstrip("/")
    console.print(f"  web copy: {base}/digests/{DEMO_WEEK}", soft_wrap=True)


def check_digest(config: Config) -> tuple[list[str], list[str]]:
    """`tgfeed check`: the digest's secrets and keys can be read (nothing is created)."""
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
    return problems, lines


DEMO_STEPS.append(demo_digest)
EXTRA_CHECKS.append(check_digest)

"""Commands of the digest concern: `tgfeed digest preview|send`, and the demo's
digest step, listed in ``demo`` (`status`, `approve`, `reject`, `resend`:
``digest_admin``; the digest's config checks: ``checks``)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from ..app import App
from ..jobs.delivery import Progress
from ..jobs.digest import DigestResult, preview_digest, send_digest
from .base import cli, console
from .context import pass_app
from .output import progress

DEMO_WEEK = "2026-W48"
DEMO_SUBSCRIBER = "ban.doc@example.vn"

_WEEK_HELP = "ISO week like 2026-W48 (default: the last complete week)."


def cli_actor() -> str:
    """Who runs a command, for the audit trail: ``cli:<user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@contextlib.contextmanager
def send_bar(week: str, *, quiet: bool = False) -> Iterator[Progress]:
    """A progress bar over a send's recipients (total, rate, ETA), silent when
    stdout is not a terminal; yields the delivery loop's ``(done, total)`` callback."""
    with progress(f"sending {week}", None, quiet=quiet) as update:
        yield lambda done, total: update(total=total, completed=done)


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


_PLAIN = {
    "skipped": "no articles this week; nothing sent (recorded as skipped; a later send "
    "re-evaluates it)",
    "no-recipients": "no active subscriber; nothing sent (recorded as skipped: no recipients; "
    "the administrator is alerted)",
    "held": "held, nothing sent",
}


def describe(result: DigestResult) -> str:
    head = f"{result.week}: "
    if result.status == "test":
        return head + f"test message sent ({result.subject})"
    if result.status in _PLAIN:
        why = f": {result.error}" if result.status == "held" and result.error else ""
        return head + _PLAIN[result.status] + why
    if result.status == "draft":
        mailed = f"; mailed to {result.recipients} approver(s)" if result.recipients else ""
        return head + f"draft awaiting approval{mailed} — {result.subject}"
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
        if result.error:
            return head + result.error
        return head + (
            f"already sent ({counts}); a week is sent only once "
            "(`tgfeed digest resend` reaches the rest)"
        )
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
    with send_bar(week or "digest", quiet=dry_run or to is not None) as bar:
        result = asyncio.run(
            send_digest(app, week=week, dry_run=dry_run, to=to, progress=bar, actor=cli_actor())
        )
    console.print(describe(result), highlight=False, soft_wrap=True)
    if result.status == "incomplete":
        sys.exit(1)


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

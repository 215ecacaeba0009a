"""Subscribing: double opt-in requests, confirmation emails, CSV imports.

The web form and the CLI both call these. A request never reveals whether an
address is already subscribed: an active subscriber gets no new email, anyone
else gets (at most every ten minutes) a confirmation link that expires.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..app import App
from ..digest.message import check_address, one_line
from ..errors import MailError, SubscriberError
from ..mail import send_simple
from ..model import Status, Subscriber
from ..templating import render

log = logging.getLogger(__name__)

CONFIRM_SUBJECT = "Xác nhận đăng ký nhận bản tin tuần"
NAME_MAX = 120
UNIT_MAX = 200


def clean_field(value: object, limit: int) -> str | None:
    text = one_line(str(value or ""))[:limit].strip()
    return text or None


def confirm_url(app: App, subscriber_id: int) -> str:
    token = app.signer.issue(
        "confirm", subscriber_id, now=app.now(), max_age=app.config.digest.confirm_max_age
    )
    return f"{app.config.site.public_url.rstrip('/')}/confirm/{token}"


def confirm_days(app: App) -> int:
    return max(1, app.config.digest.confirm_max_age // 86400)


async def send_confirmation(app: App, sub: Subscriber) -> None:
    """Email ``sub`` a confirmation link; MailError when it cannot be sent."""
    text = render(
        app.templates,
        "confirm_email.txt.j2",
        site=app.config.site,
        person=sub.name,
        email=sub.email,
        confirm_url=confirm_url(app, sub.id),
        days=confirm_days(app),
    )
    await send_simple(app, [sub.email], CONFIRM_SUBJECT, text)
    app.store.mail.confirmation_sent(sub.id, now=app.now())


async def request_subscription(
    app: App, email: str, *, name: str | None = None, unit: str | None = None, origin: str = "web"
) -> tuple[Subscriber, bool]:
    """Record a subscription request and send the confirmation when one is due;
    (subscriber, whether a confirmation was sent). SubscriberError on a bad address."""
    address = check_address(email)
    sub, due = app.store.mail.request_subscription(
        address, now=app.now(), name=name, unit=unit, origin=origin
    )
    if due:
        await send_confirmation(app, sub)
    return sub, due


@dataclass(frozen=True, slots=True)
class ImportProblem:
    line: int
    text: str
    reason: str


@dataclass(slots=True)
class ImportResult:
    added: int = 0
    updated: int = 0
    confirmations: int = 0
    problems: list[ImportProblem] = field(default_factory=list)


def _rows(data: str) -> list[tuple[int, list[str]]]:
    sample = data[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(data), dialect)
    return [(reader.line_num, row) for row in reader]


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int
    email: str
    name: str | None
    unit: str | None


def check_csv(raw: bytes, label: str) -> tuple[list[CsvRow], list[ImportProblem]]:
    """The rows of a subscriber CSV that can be imported, and the problems of the
    others (line, text, reason): what an import would do, without doing it."""
    try:
        data = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SubscriberError(
            f"{label}: not UTF-8 (byte {exc.start})", hint="save the CSV as UTF-8"
        ) from None
    good: list[CsvRow] = []
    problems: list[ImportProblem] = []
    for line, row in _rows(data):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if line == 1 and cells[0].casefold() in ("email", "e-mail", "thư điện tử", "địa chỉ email"):
            continue
        try:
            address = check_address(cells[0])
        except SubscriberError as exc:
            problems.append(ImportProblem(line, ",".join(row), exc.message))
            continue
        name = clean_field(cells[1], NAME_MAX) if len(cells) > 1 else None
        unit = clean_field(cells[2], UNIT_MAX) if len(cells) > 2 else None
        good.append(CsvRow(line, address, name, unit))
    return good, problems


async def import_csv(
    app: App,
    path: Path,
    *,
    active: bool = False,
    on_problem: Callable[[ImportProblem], None] | None = None,
    origin: str | None = None,
    on_row: Callable[[int, int], None] | None = None,
    on_confirm: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Import ``email[,name[,unit]]`` rows (a header row is recognised and skipped).

    An invalid address is reported with its line and skipped; the rest import.
    With ``active`` the subscribers are activated at once (an official list);
    otherwise they are pending and each gets a confirmation email.
    Progress: ``on_row(line, lines)`` after each row written (``lines``: the
    file's last line), ``on_confirm(done, total)`` before and after each
    confirmation email.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SubscriberError(f"{path}: cannot read: {exc.strerror}") from exc
    good, bad = check_csv(raw, str(path))
    ms = app.store.mail
    result = ImportResult()
    status: Status = "active" if active else "pending"

    def problem(p: ImportProblem) -> None:
        result.problems.append(p)
        if on_problem:
            on_problem(p)

    for p in bad:
        problem(p)
    lines = max([r.line for r in good] + [p.line for p in bad] + [1])
    to_confirm: list[tuple[int, Subscriber]] = []
    for row in good:
        sub, created = ms.add_subscriber(
            row.email,
            now=app.now(),
            name=row.name,
            unit=row.unit,
            status=status,
            origin=origin or f"import:{path.name}",
        )
        if created:
            result.added += 1
        else:
            result.updated += 1
        if not active and sub.status == "pending" and sub.confirm_sent_at is None:
            to_confirm.append((row.line, sub))
        if on_row:
            on_row(row.line, lines)
    result.confirmations = await _confirm_all(app, to_confirm, problem, on_confirm)
    return result


async def _confirm_all(
    app: App,
    to_confirm: list[tuple[int, Subscriber]],
    problem: Callable[[ImportProblem], None],
    on_confirm: Callable[[int, int], None] | None,
) -> int:
    """Send each imported pending subscriber their confirmation email; how many went."""
    sent = 0
    for done, (line, sub) in enumerate(to_confirm):
        if on_confirm:
            on_confirm(done, len(to_confirm))
        try:
            await send_confirmation(app, sub)
            sent += 1
        except MailError as exc:
            problem(ImportProblem(line, sub.email, f"confirmation not sent: {exc.message}"))
    if on_confirm and to_confirm:
        on_confirm(len(to_confirm), len(to_confirm))
    return sent

"""Lịch: the jobs with their triggers and next runs, the `tgfeed check` result,
and the editor of ``[schedule]`` (per job, or the whole section as TOML).

Every save validates the whole file first (each problem with its dotted path,
shown on the same page, nothing written), refuses when the file changed since
the page was opened, keeps a dated backup and writes atomically; the running
service's live reload then reschedules."""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...app import App
from ...errors import ConfigError
from ...jobs.status import schedule_status
from ...loader import load_file
from ...schedule_edit import JobEdit, edit_job, replace_section, save, section_text, validate
from ..common import get_app
from .session import Visitor, audit, console_page, guard

CHANGED = "Tệp cấu hình vừa được sửa ở nơi khác; xin mở lại trang này rồi sửa lại."


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file(app: App) -> Path | None:
    path = app.config.source_path
    return path if path is not None and path.is_file() else None


def _check(app: App, path: Path | None) -> tuple[list[str], list[str]]:
    from ...checks import run_checks

    if path is not None:
        try:
            load_file(path)
        except ConfigError as exc:
            return exc.problems, []
    return run_checks(app.config)


def _page(request: Request, visitor: Visitor, status_code: int = 200, **extra: object) -> Response:
    app = get_app(request)
    path = _file(app)
    text = path.read_text(encoding="utf-8") if path else ""
    problems, lines = _check(app, path)
    extra.setdefault("section_toml", section_text(text) if path else "")
    return console_page(
        request,
        visitor,
        "admin/schedule.html.j2",
        status_code=status_code,
        section="schedule",
        schedule=schedule_status(app),
        jobs=app.config.schedule.jobs,
        path=str(path) if path else None,
        base=_digest(text),
        check_problems=problems,
        check_lines=lines,
        **extra,
    )


@guard("read")
async def schedule(request: Request, visitor: Visitor) -> Response:
    return _page(request, visitor)


async def _save(
    request: Request, visitor: Visitor, action: str, make: object, **back: object
) -> Response:
    """Validate and write the text ``make(text)`` returns; refuse with the problems."""
    app = get_app(request)
    form = await request.form()
    path = _file(app)
    if path is None:
        return _page(
            request,
            visitor,
            400,
            save_errors=[
                "Dịch vụ chạy với cấu hình mặc định "
                "(không có tệp cấu hình) nên không sửa được lịch ở đây."
            ],
        )
    text = path.read_text(encoding="utf-8")
    if str(form.get("base") or "") != _digest(text):
        audit(request, visitor, action, outcome="refused", target=str(path), detail=CHANGED)
        return _page(request, visitor, 409, save_errors=[CHANGED], **back)
    try:
        new_text = make(text)  # type: ignore[operator]
        validate(new_text, path)
    except ConfigError as exc:
        audit(
            request,
            visitor,
            action,
            outcome="refused",
            target=str(path),
            detail={"problems": exc.problems},
        )
        return _page(request, visitor, 400, save_errors=exc.problems, **back)
    backup = save(path, new_text, now=app.now(), tz=app.tz)
    audit(
        request,
        visitor,
        action,
        target=str(path),
        detail={"backup": backup.name, **{k: v for k, v in back.items() if k == "edited_job"}},
    )
    return RedirectResponse("/admin/schedule?ok=schedule", status_code=303)


@guard("schedule.write", "schedule.save")
async def save_job(request: Request, visitor: Visitor) -> Response:
    app = get_app(request)
    form = await request.form()
    edit = JobEdit(
        name=str(form.get("job") or ""),
        trigger="every" if form.get("trigger") == "every" else "cron",
        value=str(form.get("value") or "")[:200],
        enabled=form.get("enabled") == "1",
    )
    return await _save(
        request,
        visitor,
        "schedule.save",
        lambda text: edit_job(text, app.config, edit),
        edited_job=edit.name,
        edited_value=edit.value,
    )


@guard("schedule.write", "schedule.save")
async def save_section(request: Request, visitor: Visitor) -> Response:
    form = await request.form()
    section = str(form.get("section") or "").replace("\r\n", "\n")
    return await _save(
        request,
        visitor,
        "schedule.save",
        lambda text: replace_section(text, section),
        section_toml=section,
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/schedule", schedule),
        Route("/admin/schedule/job", save_job, methods=["POST"]),
        Route("/admin/schedule/section", save_section, methods=["POST"]),
    ]

"""Người nhận: search and filter, add, CSV import (a preview of every problem
before anything is written), CSV export, unsubscribe, one subscriber's history."""

from __future__ import annotations

import contextlib
import csv
import io
import re
import shutil
import time
from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ...app import App
from ...auth import new_token
from ...digest.message import check_address
from ...errors import MailError, SubscriberError
from ...jobs.subscribers import (
    NAME_MAX,
    UNIT_MAX,
    check_csv,
    clean_field,
    import_csv,
    send_confirmation,
)
from ...model import STATUSES, Status
from ..common import get_app
from .session import NO_STORE, Visitor, audit, console_page, guard

PAGE = 50
STATUS_NAMES = {
    "pending": "chờ xác nhận",
    "active": "đang nhận",
    "unsubscribed": "đã hủy",
    "bounced": "thư bị trả lại",
}
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")
UPLOAD_MAX = 5 * 2**20


def vi_reason(reason: str) -> str:
    """A CSV problem in Vietnamese (the CLI prints the English original)."""
    if reason.startswith("not an email address"):
        return "không phải địa chỉ thư điện tử hợp lệ"
    if reason.startswith("confirmation not sent: "):
        return "chưa gửi được thư xác nhận: " + reason.removeprefix("confirmation not sent: ")
    return reason


def _status(value: str | None) -> Status | None:
    return value if value in STATUSES else None


def uploads_dir(app: App) -> Path:
    return app.config.resolve(app.config.store.path).parent / "admin-uploads"


def _list(request: Request, visitor: Visitor, status_code: int = 200, **extra: object) -> Response:
    ms = get_app(request).store.mail
    q = request.query_params.get("q", "")[:200]
    status = _status(request.query_params.get("status"))
    try:
        page_no = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page_no = 1
    subs, total = ms.search_subscribers(q, status, limit=PAGE, offset=(page_no - 1) * PAGE)
    return console_page(
        request,
        visitor,
        "admin/subscribers.html.j2",
        status_code=status_code,
        section="subscribers",
        subscribers=subs,
        total=total,
        counts=ms.count_subscribers(),
        q=q,
        status=status or "",
        page_no=page_no,
        pages=max(1, -(-total // PAGE)),
        status_names=STATUS_NAMES,
        vi_reason=vi_reason,
        form=extra.pop("form", {}),
        **extra,
    )


@guard("read")
async def subscribers(request: Request, visitor: Visitor) -> Response:
    return _list(request, visitor)


@guard("subscribers.write", "subscribers.add")
async def add(request: Request, visitor: Visitor) -> Response:
    app = get_app(request)
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("email", "name", "unit")}
    active = form.get("active") == "1"
    try:
        address = check_address(values["email"])
    except SubscriberError as exc:
        audit(
            request,
            visitor,
            "subscribers.add",
            outcome="failed",
            target=values["email"][:200],
            detail=exc.message,
        )
        return _list(
            request,
            visitor,
            400,
            add_error=f"«{values['email'][:200]}» không phải địa chỉ thư điện tử hợp lệ.",
            form=values,
        )
    sub, created = app.store.mail.add_subscriber(
        address,
        now=app.now(),
        name=clean_field(values["name"], NAME_MAX),
        unit=clean_field(values["unit"], UNIT_MAX),
        status="active" if active else "pending",
        origin=f"admin:{visitor.user.name}",
    )
    mail_error = None
    if sub.status == "pending" and sub.confirm_sent_at is None:
        try:
            await send_confirmation(app, sub)
        except MailError as exc:
            mail_error = exc.message
    audit(
        request,
        visitor,
        "subscribers.add",
        target=sub.email,
        detail={"status": sub.status, "created": created, "mail_error": mail_error},
    )
    if mail_error:
        return _list(
            request,
            visitor,
            add_error=f"Đã thêm {sub.email} nhưng chưa gửi được thư xác nhận: {mail_error}",
        )
    return RedirectResponse(f"/admin/subscribers/{sub.id}?ok=added", status_code=303)


async def _read_upload(form_file: object) -> tuple[str, bytes] | str:
    if not isinstance(form_file, UploadFile) or not form_file.filename:
        return "Chưa chọn tệp CSV."
    data = await form_file.read(UPLOAD_MAX + 1)
    if len(data) > UPLOAD_MAX:
        return (
            f"Tệp lớn hơn {UPLOAD_MAX // 2**20} MB; hãy chia nhỏ "
            "hoặc dùng lệnh tgfeed subscribers import."
        )
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(form_file.filename).name)[:80] or "upload.csv"
    return name, data


def _forget_old_uploads(root: Path, max_age: float = 86400) -> None:
    """Previews nobody committed are removed after a day."""
    if not root.is_dir():
        return
    cutoff = time.time() - max_age
    for folder in root.iterdir():
        with contextlib.suppress(OSError):
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)


@guard("subscribers.write", "subscribers.import")
async def import_preview(request: Request, visitor: Visitor) -> Response:
    """Step 1: check the uploaded CSV and show what would be imported; nothing is written."""
    app = get_app(request)
    form = await request.form()
    got = await _read_upload(form.get("file"))
    if isinstance(got, str):
        return _list(request, visitor, 400, import_error=got)
    name, data = got
    try:
        good, problems = check_csv(data, name)
    except SubscriberError as exc:
        return _list(request, visitor, 400, import_error=f"{exc.message} ({exc.hint})")
    _forget_old_uploads(uploads_dir(app))
    upload_id = new_token()
    folder = uploads_dir(app) / upload_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return console_page(
        request,
        visitor,
        "admin/import.html.j2",
        section="subscribers",
        file_name=name,
        upload_id=upload_id,
        good=good,
        problems=problems,
        vi_reason=vi_reason,
        active=form.get("active") == "1",
    )


@guard("subscribers.write", "subscribers.import")
async def import_commit(request: Request, visitor: Visitor) -> Response:
    """Step 2: import the previewed file's good rows."""
    app = get_app(request)
    form = await request.form()
    upload_id = str(form.get("upload") or "")
    folder = uploads_dir(app) / upload_id
    files = sorted(folder.glob("*")) if _UPLOAD_ID.match(upload_id) and folder.is_dir() else []
    if not files:
        return _list(
            request, visitor, 400, import_error="Tệp đã xem trước không còn; xin tải lên lại."
        )
    active = form.get("active") == "1"
    try:
        result = await import_csv(app, files[0], active=active, origin=f"import:{files[0].name}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    audit(
        request,
        visitor,
        "subscribers.import",
        target=files[0].name,
        detail={
            "added": result.added,
            "updated": result.updated,
            "skipped": len(result.problems),
            "active": active,
        },
    )
    return _list(request, visitor, imported=result)


@guard("read")
async def export(request: Request, visitor: Visitor) -> Response:
    app = get_app(request)
    status = _status(request.query_params.get("status"))
    audit(request, visitor, "subscribers.export", detail={"status": status})

    def rows() -> object:
        buf = io.StringIO()
        out = csv.writer(buf)
        yield "\ufeff"
        out.writerow(["email", "name", "unit", "status", "origin", "created_at", "confirmed_at"])
        for sub in app.store.mail.subscribers(status):
            out.writerow(
                [
                    sub.email,
                    sub.name or "",
                    sub.unit or "",
                    sub.status,
                    sub.origin,
                    sub.created_at.astimezone(app.tz).isoformat(),
                    sub.confirmed_at.astimezone(app.tz).isoformat() if sub.confirmed_at else "",
                ]
            )
            if buf.tell() > 32_000:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    return StreamingResponse(
        rows(),  # type: ignore[arg-type]
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="nguoi-nhan.csv"', **NO_STORE},
    )


def _subscriber_id(request: Request) -> int:
    try:
        return int(request.path_params["id"])
    except ValueError:
        return 0


@guard("read")
async def detail(request: Request, visitor: Visitor) -> Response:
    app = get_app(request)
    ms = app.store.mail
    sub = ms.subscriber(_subscriber_id(request))
    if sub is None:
        return console_page(
            request,
            visitor,
            "admin/refused.html.j2",
            status_code=404,
            message="Không có người nhận này.",
        )
    return console_page(
        request,
        visitor,
        "admin/subscriber.html.j2",
        section="subscribers",
        sub=sub,
        deliveries=ms.delivery_history(sub.id),
        bounced_at=ms.bounced_at(sub.id),
        actions=app.store.users.audit_log(target=sub.email, limit=50),
        status_names=STATUS_NAMES,
    )


@guard("subscribers.write", "subscribers.unsubscribe")
async def unsubscribe(request: Request, visitor: Visitor) -> Response:
    app = get_app(request)
    sub = app.store.mail.unsubscribe(_subscriber_id(request), now=app.now())
    if sub is None:
        return console_page(
            request,
            visitor,
            "admin/refused.html.j2",
            status_code=404,
            message="Không có người nhận này.",
        )
    audit(request, visitor, "subscribers.unsubscribe", target=sub.email)
    return RedirectResponse(f"/admin/subscribers/{sub.id}?ok=unsubscribed", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/subscribers", subscribers),
        Route("/admin/subscribers/add", add, methods=["POST"]),
        Route("/admin/subscribers/import", import_preview, methods=["POST"]),
        Route("/admin/subscribers/import/commit", import_commit, methods=["POST"]),
        Route("/admin/subscribers.csv", export),
        Route("/admin/subscribers/{id:int}", detail),
        Route("/admin/subscribers/{id:int}/unsubscribe", unsubscribe, methods=["POST"]),
    ]

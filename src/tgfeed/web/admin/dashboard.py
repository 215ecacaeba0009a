"""Tổng quan: the jobs with their next fire times (local time), last outcomes,
failures and alerts, the digest's state, the sources' health; "run now" (with a
dry run) for administrators."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...errors import TgfeedError
from ...jobs.status import collect_status
from ...scheduler.runner import run_job
from ..common import get_app
from .session import Visitor, audit, console_page, guard
from .weeks import awaiting_decision, default_week, not_an_approver


def _alerts(status: dict[str, Any]) -> list[str]:
    sched: dict[str, Any] = status["schedule"]
    out = []
    if sched.get("config_error"):
        out.append("Cấu hình mới bị từ chối; lịch cũ vẫn chạy: " + "; ".join(sched["config_error"]))
    for job in sched["jobs"]:
        last = job.get("last") or {}
        if last.get("outcome") in ("failed", "missed"):
            word = "thất bại" if last["outcome"] == "failed" else "bị lỡ"
            out.append(f"Công việc {job['name']} {word}: {last.get('error') or ''}".rstrip(": "))
    for s in status["sources"]:
        if s["enabled"] and s["failing"]:
            out.append(
                f"Nguồn {s['name']} lỗi {s['consecutive_failures']} lần liên tiếp: "
                f"{s['last_error'] or ''}"
            )
    return out


def _page(request: Request, visitor: Visitor, **extra: Any) -> Response:
    app = get_app(request)
    status = collect_status(app)
    week = default_week(app)
    record = app.store.mail.digest(week)
    return console_page(
        request,
        visitor,
        "admin/dashboard.html.j2",
        section="dashboard",
        status=status,
        alerts=_alerts(status),
        week=week,
        week_record=record,
        week_state=record.status if record else "none",
        week_awaiting=awaiting_decision(app, record),
        # "to approve" only to whom may decide: the role, and [digest] approvers.
        may_decide=visitor.can("digest.approve") and not_an_approver(app, visitor.user) is None,
        **extra,
    )


@guard("read")
async def dashboard(request: Request, visitor: Visitor) -> Response:
    return _page(request, visitor)


@guard("jobs.run", "jobs.run")
async def run_now(request: Request, visitor: Visitor) -> Response:
    app = get_app(request)
    form = await request.form()
    name = str(form.get("job") or "")
    dry = form.get("dry_run") == "1"
    try:
        outcome = await run_job(app, name, trigger="manual", dry_run=dry, scheduled_at=app.now())
    except TgfeedError as exc:
        audit(request, visitor, "jobs.run", outcome="failed", target=name, detail=exc.message)
        return _page(request, visitor, run_error=f"Không chạy được {name}: {exc.message}")
    audit(
        request,
        visitor,
        "jobs.run",
        outcome="ok" if outcome.outcome != "failed" else "failed",
        target=name,
        detail={
            "dry_run": dry,
            "outcome": outcome.outcome,
            "summary": outcome.summary,
            "error": outcome.error,
        },
    )
    return _page(request, visitor, ran=outcome, ran_dry=dry)


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/", dashboard),
        Route("/admin/jobs/run", run_now, methods=["POST"]),
    ]

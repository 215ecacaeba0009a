"""A digest week as the console shows it: every lifecycle state in Vietnamese,
which week a screen opens on, why a week cannot be approved or rejected now
(said in Vietnamese from the week's own record and history), and why a console
user may not decide a draft at all (``[digest] approvers`` does not list them)."""

from __future__ import annotations

from datetime import datetime

from ...app import App
from ...digest.approval import approver_of
from ...jobs.status import schedule_status
from ...model import DigestRecord, User
from ...text import format_vi_datetime, iso_week_key, last_complete_week

# Every state of docs/digest.md "States", and "none" for a week with no record yet.
STATE_NAMES: dict[str, str] = {
    "none": "chưa có bản ghi",
    "draft": "bản nháp chờ duyệt",
    "approved": "đã duyệt, chờ gửi",
    "sending": "đang gửi",
    "sent": "đã gửi",
    "skipped": "bỏ qua",
    "held": "tạm giữ",
    "rejected": "bị từ chối",
}

# What the system itself writes as a reason, said in Vietnamese (others as written).
_REASONS = {
    "no recipients": "không có người nhận nào đang nhận bản tin",
    "no articles": "không có tin mới trong tuần",
}


def reason_vi(reason: str) -> str:
    return next((vi for en, vi in _REASONS.items() if reason.startswith(en)), reason)


def next_week(app: App) -> str:
    """The week the next scheduled digest covers (the current week without one)."""
    for job in schedule_status(app)["jobs"]:
        if job["kind"] == "send_digest" and job["enabled"] and job["next"]:
            return last_complete_week(datetime.fromisoformat(job["next"][0]), app.tz)
    return iso_week_key(app.now(), app.tz)


def awaiting_decision(app: App, record: DigestRecord | None) -> bool:
    """A draft, or a week held at its approval deadline (it keeps its draft)."""
    if record is None:
        return False
    held = record.status == "held" and app.store.mail.has_draft(record.id)
    return record.status == "draft" or held


def default_week(app: App) -> str:
    """The newest week waiting for a decision, else the next scheduled one."""
    for record in app.store.mail.digests(limit=8):
        if awaiting_decision(app, record):
            return record.week
    return next_week(app)


def _when(app: App, at: datetime | None) -> str:
    return f" lúc {format_vi_datetime(at, app.tz)} (+07:00)" if at else ""


def not_decidable(app: App, week: str, record: DigestRecord | None) -> str:
    """Why ``week`` cannot be approved or rejected now, in Vietnamese."""
    if record is None:
        return (
            f"Tuần {week} chưa có bản nháp nào để duyệt. Bản nháp được tạo khi công việc "
            "gửi bản tin chạy (với [digest] approval = true)."
        )
    name = STATE_NAMES.get(record.status, record.status)
    if record.status in ("approved", "sending", "sent"):
        by = record.approved_by
        who = (
            "tự động vì đã quá hạn duyệt"
            if by == "scheduler"
            else f"bởi {by}"
            if by
            else "không qua duyệt (chế độ duyệt đang tắt)"
        )
        return (
            f"Bản tin tuần {week} không còn là bản nháp ({name}): đã được duyệt {who}"
            f"{_when(app, record.approved_at)}. Không thể duyệt hay từ chối lại."
        )
    events = app.store.mail.events(week)
    last = events[-1] if events else None
    if record.status == "rejected" and last is not None:
        return (
            f"Bản tin tuần {week} đã bị từ chối bởi {last.actor}{_when(app, last.at)}: "
            f"{last.reason}. Lần chạy gửi bản tin tiếp theo sẽ tạo bản nháp mới."
        )
    why = f": {reason_vi(last.reason)}" if last and last.reason else ""
    return f"Tuần {week} đang ở trạng thái “{name}”{why}; không có bản nháp để duyệt."


def not_an_approver(app: App, user: User) -> str | None:
    """Why ``user`` may not approve or reject a draft, in Vietnamese; None when they
    may: ``[digest] approvers`` is empty, or lists their account's address."""
    approvers = app.config.digest.approvers
    if not approvers or approver_of(user.email, approvers) is not None:
        return None
    whose = (
        f"Địa chỉ thư của tài khoản bạn ({user.email}) không có trong danh sách này."
        if user.email
        else "Tài khoản của bạn chưa có địa chỉ thư nên không khớp với người duyệt nào."
    )
    return (
        "Chỉ người duyệt có tên trong danh sách [digest] approvers mới được duyệt hoặc từ "
        f"chối bản tin: {', '.join(approvers)}. {whose} Người duyệt dùng đường dẫn trong "
        "thư «[Cần duyệt]», hoặc đăng nhập bằng tài khoản mang địa chỉ thư của mình."
    )


__all__ = [
    "STATE_NAMES",
    "awaiting_decision",
    "default_week",
    "next_week",
    "not_an_approver",
    "not_decidable",
    "reason_vi",
]

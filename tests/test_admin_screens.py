"""The console's screens over a real uvicorn server: subscribers (search, add,
CSV import previewed before it writes, export, unsubscribe, history), the
schedule editor (validated, comments kept, dated backup, refused edits audited),
"run now" with a dry run, the digest preview and its test send."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tgfeed.app import App
from tgfeed.web.server import create_app

from .admin_support import add_user, csrf_of, login, page_csrf
from .test_digest_web import outbox

CSV_TWO_BAD = (
    "email,họ tên,đơn vị\n"
    "nguyen.van.an@example.vn,Nguyễn Văn An,Ban Tuyên giáo\n"
    "khong-phai-dia-chi,Trần Văn B,Huyện ủy\n"
    "le.thi.hoa@example.vn,Lê Thị Hoa,Sở Văn hóa\n"
    "@thieu-ten.vn,Phạm C,Xã\n"
)

SCHEDULE = """# Cấu hình của Ban — chú thích này phải còn nguyên
[store]
path = "data/tgfeed.db"
[feeds]
output_dir = "public"
[mail]
outbox_dir = "outbox"

[schedule]
timezone = "Asia/Ho_Chi_Minh"

# Bản tin thứ Hai
[schedule.jobs.weekly_digest]
kind = "send_digest"
cron = "0 7 * * mon"  # 7 giờ sáng thứ Hai

[schedule.jobs.build_feeds]
kind = "build_feeds"
every = "15m"
"""


@pytest.fixture
def served(
    app_factory: Callable[..., App], live_server: Callable[[Any], Any]
) -> Iterator[tuple[App, str]]:
    app = app_factory(samples=True)
    add_user(app, "quantri", "admin", "quantri@example.vn")
    add_user(app, "bientap", "editor", "bientap@example.vn")
    with live_server(create_app(app, scheduler=False)) as srv:
        yield app, srv.url


def _preview(client: httpx.Client, data: str, active: bool = False) -> httpx.Response:
    return client.post(
        "/admin/subscribers/import",
        data={"csrf": page_csrf(client), **({"active": "1"} if active else {})},
        files={"file": ("danh-sach.csv", data.encode("utf-8"), "text/csv")},
    )


def test_csv_import_shows_every_bad_row_before_writing_then_adds_the_good(
    served: tuple[App, str],
) -> None:
    app, url = served
    client, _ = login(url, "quantri")
    preview = _preview(client, CSV_TWO_BAD, active=True)
    assert preview.status_code == 200
    assert re.findall(r"<li>Dòng (\d+):", preview.text) == ["3", "5"]
    assert "<strong>2</strong> dòng hợp lệ" in preview.text
    assert app.store.mail.count_subscribers()["active"] == 0  # nothing written yet
    upload = re.search(r'name="upload" value="([^"]+)"', preview.text)
    assert upload
    done = client.post(
        "/admin/subscribers/import/commit",
        data={"csrf": csrf_of(preview.text), "upload": upload[1], "active": "1"},
    )
    assert "thêm 2, cập nhật 0, bỏ qua 2" in done.text
    emails = sorted(s.email for s in app.store.mail.subscribers("active"))
    assert emails == ["le.thi.hoa@example.vn", "nguyen.van.an@example.vn"]
    # The previewed file is gone: committing twice imports nothing twice.
    again = client.post(
        "/admin/subscribers/import/commit",
        data={"csrf": csrf_of(preview.text), "upload": upload[1], "active": "1"},
    )
    assert again.status_code == 400 and "không còn" in again.text
    entry = app.store.users.audit_log()[0]
    assert (entry.actor, entry.action, entry.target) == (
        "quantri",
        "subscribers.import",
        "danh-sach.csv",
    )


def test_a_csv_that_is_not_utf8_is_a_message_on_the_same_page(served: tuple[App, str]) -> None:
    _, url = served
    client, _ = login(url, "quantri")
    r = client.post(
        "/admin/subscribers/import",
        data={"csrf": page_csrf(client)},
        files={"file": ("cp1258.csv", "a@example.vn,Nguy\xean\n".encode("latin-1"))},
    )
    assert r.status_code == 400 and "not UTF-8" in r.text and "Người nhận bản tin" in r.text


def test_add_search_filter_history_unsubscribe_export(served: tuple[App, str]) -> None:
    app, url = served
    client, _ = login(url, "quantri")
    token = page_csrf(client)
    r = client.post(
        "/admin/subscribers/add",
        data={
            "csrf": token,
            "email": "Tran.Thu@Example.vn",
            "name": "Trần Thu",
            "unit": "Văn Lâm",
            "active": "1",
        },
        follow_redirects=True,
    )
    assert r.status_code == 200 and "Đã thêm người nhận." in r.text
    client.post("/admin/subscribers/add", data={"csrf": token, "email": "cho@example.vn"})
    bad = client.post("/admin/subscribers/add", data={"csrf": token, "email": "không hợp lệ"})
    assert bad.status_code == 400 and "không phải địa chỉ thư điện tử hợp lệ" in bad.text
    found = client.get("/admin/subscribers", params={"q": "Văn Lâm"})
    assert re.findall(r'data-email="([^"]+)"', found.text) == ["Tran.Thu@example.vn"]
    pending = client.get("/admin/subscribers", params={"status": "pending"})
    assert re.findall(r'data-email="([^"]+)"', pending.text) == ["cho@example.vn"]
    assert len(outbox(app)) == 1  # the pending one got its confirmation email
    sub = app.store.mail.by_email("tran.thu@example.vn")
    assert sub is not None
    out = client.post(
        f"/admin/subscribers/{sub.id}/unsubscribe", data={"csrf": token}, follow_redirects=True
    )
    assert "Đã hủy đăng ký." in out.text and "hủy đăng ký</li>" in out.text
    assert "subscribers.unsubscribe" in out.text  # the admin action is in its history
    exported = client.get("/admin/subscribers.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["email", "name", "unit", "status"]
    assert sorted((r[0], r[3]) for r in rows[1:]) == [
        ("Tran.Thu@example.vn", "unsubscribed"),
        ("cho@example.vn", "pending"),
    ]


def test_a_dry_run_from_the_dashboard_is_not_recorded(served: tuple[App, str]) -> None:
    app, url = served
    client, _ = login(url, "quantri")
    r = client.post(
        "/admin/jobs/run", data={"csrf": page_csrf(client), "job": "build_feeds", "dry_run": "1"}
    )
    assert "Chạy thử (không gửi, không ghi)" in r.text and "xong" in r.text
    assert app.store.jobs.last_run("build_feeds") is None
    assert not (app.path(app.config.feeds.output_dir) / "feeds").exists()
    real = client.post("/admin/jobs/run", data={"csrf": page_csrf(client), "job": "build_feeds"})
    assert "Đã chạy" in real.text
    last = app.store.jobs.last_run("build_feeds")
    assert last is not None and last["outcome"] == "ok"


def test_the_digest_preview_frames_the_mail_and_test_sends_to_my_address(
    served: tuple[App, str],
) -> None:
    app, url = served
    client, _ = login(url, "bientap")
    r = client.get("/admin/digest", params={"week": "2026-W48"})
    assert r.status_code == 200 and "frame-src 'self'" in r.headers["content-security-policy"]
    assert 'width="620"' in r.text and 'width="375"' in r.text
    assert "Phần văn bản thuần" in r.text
    frame = client.get("/admin/digest/preview/2026-W48.html")
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    assert "script-src" not in frame.headers["content-security-policy"]  # none: default-src
    assert "max-width" in frame.text
    assert 'action="/admin/digest/approve"' not in r.text  # no draft: nothing to approve
    sent = client.post(
        "/admin/digest/test?week=2026-W48", data={"csrf": csrf_of(r.text), "week": "2026-W48"}
    )
    assert "Đã gửi bản thử tới bientap@example.vn." in sent.text
    (msg,) = outbox(app)
    assert msg["To"].addresses[0].addr_spec == "bientap@example.vn"
    assert app.store.mail.digest("2026-W48") is None  # a test send is not the week's run


def _schedule_app(tmp_path: Path, app_factory: Callable[..., App]) -> tuple[App, Path]:
    app = app_factory()
    path = app.config.source_path
    assert path is not None
    path.write_text(SCHEDULE, encoding="utf-8")
    from tgfeed.loader import load_file

    return app.with_config(load_file(path)), path


def test_a_bad_cron_is_refused_with_its_dotted_path_and_nothing_is_written(
    tmp_path: Path, app_factory: Callable[..., App], live_server: Callable[[Any], Any]
) -> None:
    app, path = _schedule_app(tmp_path, app_factory)
    add_user(app, "quantri", "admin")
    with live_server(create_app(app, scheduler=False)) as srv:
        client, _ = login(srv.url, "quantri")
        page = client.get("/admin/schedule")
        base = re.search(r'name="base" value="([^"]+)"', page.text)
        assert base
        r = client.post(
            "/admin/schedule/job",
            data={
                "csrf": csrf_of(page.text),
                "base": base[1],
                "job": "weekly_digest",
                "trigger": "cron",
                "value": "0 25 * * mon",
                "enabled": "1",
            },
        )
        assert r.status_code == 400
        assert "schedule.jobs.weekly_digest.cron: invalid cron" in r.text
        unknown = client.post(
            "/admin/schedule/section",
            data={
                "csrf": csrf_of(page.text),
                "base": base[1],
                "section": "[schedule]\ntimezon = 'UTC'\n",
            },
        )
        assert unknown.status_code == 400 and "schedule.timezon: unknown key" in unknown.text
        assert "timezon = &#39;UTC&#39;" in unknown.text  # what was typed is kept
        other = client.post(
            "/admin/schedule/section",
            data={"csrf": csrf_of(page.text), "base": base[1], "section": "[web]\nport = 1\n"},
        )
        assert other.status_code == 400 and "only the [schedule] section" in other.text
    assert path.read_text(encoding="utf-8") == SCHEDULE
    assert list(tmp_path.glob("config.toml.*.bak")) == []
    refused = [a for a in app.store.users.audit_log() if a.action == "schedule.save"]
    assert [a.outcome for a in refused] == ["refused"] * 3
    assert refused[-1].detail and "schedule.jobs.weekly_digest.cron" in refused[-1].detail


def test_a_good_edit_keeps_comments_backs_up_and_refuses_a_stale_form(
    tmp_path: Path, app_factory: Callable[..., App], live_server: Callable[[Any], Any]
) -> None:
    app, path = _schedule_app(tmp_path, app_factory)
    add_user(app, "quantri", "admin")
    with live_server(create_app(app, scheduler=False)) as srv:
        client, _ = login(srv.url, "quantri")
        page = client.get("/admin/schedule")
        base = re.search(r'name="base" value="([^"]+)"', page.text)
        assert base
        r = client.post(
            "/admin/schedule/job",
            data={
                "csrf": csrf_of(page.text),
                "base": base[1],
                "job": "weekly_digest",
                "trigger": "cron",
                "value": "30 6 * * mon",
                "enabled": "1",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/admin/schedule?ok=schedule"
        stale = client.post(
            "/admin/schedule/job",
            data={
                "csrf": csrf_of(page.text),
                "base": base[1],
                "job": "build_feeds",
                "trigger": "every",
                "value": "1h",
                "enabled": "1",
            },
        )
        assert stale.status_code == 409 and "vừa được sửa ở nơi khác" in stale.text
    text = path.read_text(encoding="utf-8")
    assert text == SCHEDULE.replace('cron = "0 7 * * mon"', 'cron = "30 6 * * mon"')
    (backup,) = tmp_path.glob("config.toml.*.bak")
    assert re.fullmatch(r"config\.toml\.\d{8}-\d{6}\.bak", backup.name)
    assert backup.read_text(encoding="utf-8") == SCHEDULE

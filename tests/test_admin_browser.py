"""The console in Chromium against a real `tgfeed serve` (users made with the CLI,
mail to a real aiosmtpd on 127.0.0.1): log in → dashboard → add a subscriber →
import a CSV with two bad rows (the preview shows them, committing adds the good
ones) → the week's draft (made by the send job) → a test send that arrives →
approve → every active subscriber gets the week once (the send job run again
adds nothing); an editor cannot reach user management; a viewer cannot run a job; a schedule edit with a bad cron is refused
with its dotted path, a good one reschedules the running service and keeps the
file's comments. Every screen fits 375 px.

With ``TGFEED_SCREENSHOTS=docs/admin`` the flows also save the screenshots of the
gallery in docs/admin.md (each screen at 1280 and 375 px)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tgfeed.app import build_app
from tgfeed.cli.demo import samples_path
from tgfeed.jobs.ingest import import_paths
from tgfeed.loader import load_file

from .admin_support import PASSWORD
from .conftest import FIXTURES, write_config
from .smtp_server import SmtpServer
from .test_admin_screens import CSV_TWO_BAD, SCHEDULE
from .test_serve import Serve

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("TGFEED_SCREENSHOTS")
WIDTHS = {"1280": (1280, 900), "375": (375, 740)}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def _tgfeed(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real command line on the service's config (what cron or an operator runs)."""
    return subprocess.run(
        [sys.executable, "-m", "tgfeed", "--config", str(cwd / "config.toml"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def _users(cwd: Path, *specs: tuple[str, str, str | None]) -> None:
    for name, role, email in specs:
        args = ["users", "add", name, "--role", role, "--password-stdin"]
        r = _tgfeed(cwd, *args, *(["--email", email] if email else []), stdin=PASSWORD + "\n")
        assert r.returncode == 0, r.stderr


SOURCE = '[[sources]]\nname = "thu-muc-cms"\nkind = "directory"\npath = "drop"\n'
APPROVER = "truong.ban@example.vn"
ADMIN = "quantri@example.vn"  # an approver too: only approvers decide a draft in the console
APPROVAL = f'[digest]\napproval = true\napprovers = ["{APPROVER}", "{ADMIN}"]\n'
WEEK = "2026-W48"  # the sample articles' week


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """Where the service lives: tmp_path, or for the gallery a neutral /srv/tgfeed
    (the schedule page shows the config file's path)."""
    if not SHOTS:
        yield tmp_path
        return
    root = Path("/srv/tgfeed")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def service(home: Path, smtp: SmtpServer) -> Iterator[Serve]:
    config = home / "config.toml"
    write_config(home, smtp.toml() + '[web]\nadmin_token_env = "TGFEED_TEST_ADMIN"\n' + APPROVAL)
    body = config.read_text(encoding="utf-8")
    schedule = SCHEDULE[SCHEDULE.index("[schedule]") :]
    config.write_text(
        "# Cấu hình của Ban — chú thích này phải còn nguyên\n" + body + SOURCE + "\n" + schedule,
        encoding="utf-8",
    )
    drop = home / "drop"
    drop.mkdir()
    for name in ("text_basic.txt", "broken_no_date.txt"):
        shutil.copy(FIXTURES / "pages" / name, drop / name)
    with build_app(load_file(config)) as app:
        import_paths(app, [samples_path()])
    _users(
        home,
        ("quantri", "admin", "quantri@example.vn"),
        ("bientap", "editor", "bientap@example.vn"),
        ("xem", "viewer", None),
    )
    serve = Serve(home)
    try:
        yield serve
    finally:
        serve.stop()


def _shot(page: Any, name: str) -> None:
    """Check the page fits 375 px, and save the screenshots when asked."""
    size = page.viewport_size
    page.set_viewport_size({"width": 375, "height": 740})
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
        " > 376 && !e.closest('.scroll')).map(e => e.tagName + '.' + e.className + '#' + e.id)"
        ".slice(0, 5)"
    )
    assert width <= 375, f"{name} is {width} px wide at 375 px: {wide}"
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        for label, (w, h) in WIDTHS.items():
            page.set_viewport_size({"width": w, "height": h})
            # The whole page in the viewport: Chromium paints a frame only there.
            tall = page.evaluate("document.documentElement.scrollHeight")
            page.set_viewport_size({"width": w, "height": max(h, tall)})
            for i in range(page.locator("iframe").count()):
                page.frame_locator("iframe").nth(i).locator("table").first.wait_for()
            page.screenshot(path=f"{SHOTS}/{name}-{label}.png", full_page=True)
    page.set_viewport_size(size)


def _login(browser: Any, url: str, name: str) -> Any:
    context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url + "/admin/")
    assert page.url.startswith(url + "/admin/login")
    page.get_by_label("Tên đăng nhập").fill(name)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_selector("h1")
    return page


def _frames_loaded(page: Any) -> None:
    """The two preview frames (lazy) have loaded the mail: scrolled to, body drawn."""
    for width in ("620", "375"):
        page.locator(f"iframe[width='{width}']").scroll_into_view_if_needed()
        page.frame_locator(f"iframe[width='{width}']").locator("table").first.wait_for()
    page.evaluate("window.scrollTo(0, 0)")


def _nav(page: Any, label: str) -> None:
    page.locator("nav.console").get_by_role("link", name=label, exact=True).click()
    page.wait_for_load_state()


def _wait(check: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_an_administrator_logs_in_adds_imports_previews_and_test_sends(
    service: Serve, smtp: SmtpServer, browser: Any, home: Path
) -> None:
    url = service.url
    login_page = browser.new_page(viewport={"width": 1280, "height": 900})
    login_page.goto(url + "/admin/login")
    _shot(login_page, "login")
    page = _login(browser, url, "quantri")
    assert page.locator("h1").inner_text() == "Tổng quan"
    assert page.locator("#jobs tr[data-job=weekly_digest] .next").inner_text().endswith("+07:00")
    _shot(page, "dashboard")

    _nav(page, "Người nhận")
    page.get_by_label("Địa chỉ thư điện tử").fill("pho.ban@example.vn")
    page.get_by_label("Họ và tên").fill("Phạm Thị Đoan Trang")
    page.get_by_label("Đơn vị / chức vụ").fill("Ban Tuyên giáo Huyện ủy Văn Lâm")
    page.get_by_label("Kích hoạt ngay (không gửi thư xác nhận)").check()
    page.get_by_role("button", name="Thêm", exact=True).click()
    assert page.locator("#notice").inner_text() == "Đã thêm người nhận."
    assert page.locator("#email").inner_text() == "pho.ban@example.vn"
    _shot(page, "subscriber")

    _nav(page, "Người nhận")
    csv_file = home / "danh-sach.csv"
    csv_file.write_text(CSV_TWO_BAD, encoding="utf-8")
    page.get_by_label("Tệp CSV").set_input_files(str(csv_file))
    page.get_by_label("Danh sách chính thức").check()
    page.get_by_role("button", name="Xem trước").click()
    problems = page.locator("#problems li").all_inner_texts()
    assert [p.split(":")[0] for p in problems] == ["Dòng 3", "Dòng 5"]
    _shot(page, "import-preview")
    page.get_by_role("button", name="Nhập 2 người nhận").click()
    assert "thêm 2, cập nhật 0, bỏ qua 2" in page.locator("#import-result").inner_text()
    rows = page.locator("#subscribers tr[data-email]")
    assert rows.count() == 3
    _shot(page, "subscribers")

    # The send job makes the week's draft (approval is on) and mails the approvers.
    made = _tgfeed(home, "digest", "send", "--week", WEEK)
    assert "draft awaiting approval; mailed to 2 approver(s)" in made.stdout, made.stderr
    _nav(page, "Tổng quan")
    assert page.locator("#week-state").inner_text() == "bản nháp chờ duyệt"
    page.get_by_role("link", name="Mở bản nháp để duyệt").click()
    assert page.locator("h1").inner_text() == f"Bản tin tuần {WEEK}"
    assert page.locator("#state").inner_text() == "bản nháp chờ duyệt"
    frame = page.frame_locator("iframe[width='375']")
    assert "Bản tin tuần 48/2026" in frame.locator("body").inner_text()
    assert "BẢN TIN TUẦN 48/2026" in page.locator("#text-part").inner_text()
    page.get_by_role("button", name="Gửi thử tới địa chỉ của tôi").click()
    assert page.locator("#test-result").inner_text() == "Đã gửi bản thử tới quantri@example.vn."
    assert _wait(lambda: len(smtp.by_recipient().get(ADMIN, [])) == 2)  # the draft, then this
    (draft, test_copy) = smtp.by_recipient()["quantri@example.vn"]
    assert str(draft.parsed()["Subject"]).startswith("[Cần duyệt] Bản tin tuần 48/2026")
    assert str(test_copy.parsed()["Subject"]).startswith("Bản tin tuần 48/2026")
    _frames_loaded(page)
    _shot(page, "digest-draft")

    active = ["pho.ban@example.vn", "nguyen.van.an@example.vn", "le.thi.hoa@example.vn"]
    page.get_by_label("Ghi chú khi duyệt (không bắt buộc)").fill("Đã soát tên các hội nghị")
    page.get_by_role("button", name="Duyệt và gửi tới 3 người nhận").click()
    assert page.locator("#action-result").inner_text().startswith(f"Đã duyệt bản tin tuần {WEEK}.")
    assert _wait(lambda: all(a in smtp.by_recipient() for a in active)), service.output()

    def shows_sent() -> bool:
        page.goto(url + f"/admin/digest?week={WEEK}")
        return bool(page.locator("#state").inner_text() == "đã gửi")

    assert _wait(shows_sent)
    assert "console:quantri" in page.locator("#history").inner_text()
    _frames_loaded(page)
    _shot(page, "digest")
    # The send job again (cron's next run, an operator) sends nobody a second copy.
    again = _tgfeed(home, "digest", "send", "--week", WEEK)
    assert again.returncode == 0 and "already sent" in again.stdout, again.stderr
    copies = {rcpt: len(got) for rcpt, got in smtp.by_recipient().items()}
    assert copies == {APPROVER: 1, ADMIN: 2, **dict.fromkeys(active, 1)}  # ADMIN: draft, test

    _nav(page, "Nguồn tin")
    assert page.locator("h1").inner_text() == "Nguồn tin"
    page.get_by_role("button", name="Thu thập thu-muc-cms ngay").click()
    assert "thu-muc-cms: thêm 1" in page.locator("#crawl-result").inner_text()
    failure = page.locator("#failures tbody tr").first.inner_text()
    assert "broken_no_date.txt" in failure and "thu-muc-cms" in failure
    _shot(page, "sources")
    _nav(page, "Tài khoản")
    assert page.locator("#audit").inner_text().count("subscribers.") >= 2
    _shot(page, "users")


def test_an_editor_cannot_reach_user_management(service: Serve, browser: Any) -> None:
    page = _login(browser, service.url, "bientap")
    assert page.locator("nav.console a", has_text="Tài khoản").count() == 0
    page.goto(service.url + "/admin/users")
    assert page.locator("#refused").inner_text() == "Chỉ quản trị viên được quản lý tài khoản."
    _shot(page, "refused")


def test_a_viewer_cannot_run_a_job(service: Serve, browser: Any) -> None:
    page = _login(browser, service.url, "xem")
    assert page.locator("form[action='/admin/jobs/run']").count() == 0
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    # The forged request carries the viewer's own session and CSRF token: the role decides.
    r = page.context.request.post(
        service.url + "/admin/jobs/run", form={"csrf": csrf, "job": "build_feeds"}
    )
    assert r.status == 403 and "Vai trò của bạn không được chạy công việc." in r.text()
    runs = service.status()["recent_runs"]
    assert not [x for x in runs if x["job"] == "build_feeds" and x["trigger"] == "manual"]


def _next_digest(service: Serve) -> str:
    jobs = {j["name"]: j for j in service.status()["schedule"]["jobs"]}
    return str(jobs["weekly_digest"]["next"][0])


def test_a_schedule_edit_is_validated_then_rescheduled_live_keeping_comments(
    service: Serve, browser: Any, home: Path
) -> None:
    assert _next_digest(service).endswith("T07:00:00+07:00")
    page = _login(browser, service.url, "quantri")
    _nav(page, "Lịch")
    row = page.locator("tr[data-job=weekly_digest]")
    row.get_by_label("Giá trị").fill("0 25 * * mon")
    row.get_by_role("button", name="Lưu").click()
    errors = page.locator("#save-errors").inner_text()
    assert "schedule.jobs.weekly_digest.cron: invalid cron" in errors
    _shot(page, "schedule-refused")
    config = home / "config.toml"
    assert 'cron = "0 7 * * mon"  # 7 giờ sáng thứ Hai' in config.read_text(encoding="utf-8")

    page.goto(service.url + "/admin/schedule")
    row = page.locator("tr[data-job=weekly_digest]")
    row.get_by_label("Giá trị").fill("30 6 * * mon")
    row.get_by_role("button", name="Lưu").click()
    assert "Đã lưu lịch" in page.locator("#notice").inner_text()
    assert _wait(lambda: _next_digest(service).endswith("T06:30:00+07:00")), service.output()
    text = config.read_text(encoding="utf-8")
    assert text.startswith("# Cấu hình của Ban — chú thích này phải còn nguyên\n")
    assert 'cron = "30 6 * * mon"  # 7 giờ sáng thứ Hai' in text and "# Bản tin thứ Hai" in text
    assert len(list(home.glob("config.toml.*.bak"))) == 1
    page.goto(service.url + "/admin/schedule")
    assert (
        page.locator("tr[data-job=weekly_digest] .next")
        .inner_text()
        .split("\n")[0]
        .endswith("06:30 +07:00")
    )
    _shot(page, "schedule")
    log = service.output()
    assert "config reloaded" in log  # what happened …
    assert "change detected" not in log and "Adding job tentatively" not in log  # … only

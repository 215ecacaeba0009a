"""Subscribers and the digest from the real command line (subprocesses over real
files), plus the store's subscriber rules and the signed tokens."""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tgfeed.app import App, build_app
from tgfeed.errors import ConfigError, TokenError
from tgfeed.loader import loads
from tgfeed.tokens import TOKEN_LENGTH, Signer, load_key

from .conftest import SAMPLES, write_config
from .test_cli import run

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def outbox_messages(tmp_path: Path) -> list[email.message.EmailMessage]:
    box = mailbox.Maildir(tmp_path / "outbox", create=False)
    out = []
    for key in sorted(box.keys()):
        with box.get_file(key) as f:
            out.append(email.message_from_binary_file(f, policy=email.policy.default))
    return out  # type: ignore[return-value]


def open_app(tmp_path: Path) -> App:
    path = tmp_path / "config.toml"
    return build_app(loads(path.read_bytes(), source=path))


def test_add_list_remove(tmp_path: Path) -> None:
    write_config(tmp_path)
    r = run(
        "subscribers",
        "add",
        "Chanh.VP@Example.VN",
        "--name",
        "Lê Văn Chánh",
        "--unit",
        "Văn phòng Tỉnh ủy",
        "--active",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "added Chanh.VP@example.vn (active)" in r.stdout
    r = run("subscribers", "add", "moi@example.vn", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "(pending)" in r.stdout and "confirmation email sent to moi@example.vn" in r.stdout
    (msg,) = outbox_messages(tmp_path)
    assert msg["Subject"] == "Xác nhận đăng ký nhận bản tin tuần"
    assert "/confirm/" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    r = run("subscribers", "list", cwd=tmp_path)
    assert "Chanh.VP@example.vn" in r.stdout and "Lê Văn Chánh" in r.stdout
    assert "moi@example.vn" in r.stdout and "1 pending, 1 active" in r.stdout
    r = run("subscribers", "list", "--status", "active", cwd=tmp_path)
    assert "moi@example.vn" not in r.stdout
    # Case-insensitive: the same mailbox is one subscriber.
    r = run("subscribers", "add", "chanh.vp@example.vn", "--active", cwd=tmp_path)
    assert "updated" in r.stdout
    r = run("subscribers", "remove", "CHANH.VP@EXAMPLE.VN", cwd=tmp_path)
    assert r.returncode == 0 and "removed Chanh.VP@example.vn" in r.stdout
    r = run("subscribers", "remove", "khong.co@example.vn", cwd=tmp_path)
    assert r.returncode == 1 and "no such subscriber" in r.stderr
    r = run("subscribers", "add", "sai địa chỉ", cwd=tmp_path)
    assert r.returncode == 1 and "not an email address" in r.stderr


def test_import_csv_reports_bad_lines_and_imports_the_rest(tmp_path: Path) -> None:
    write_config(tmp_path)
    csv = tmp_path / "danh-sach.csv"
    csv.write_text(
        "email,họ tên,đơn vị\n"
        "bi.thu@example.vn,Nguyễn Văn Bí,Huyện ủy Khoái Châu\n"
        "khong-hop-le,Người sai,Đơn vị X\n"
        "\n"
        'pho.bi.thu@example.vn,"Trần Thị Phó, Tiến sĩ","Thị ủy Mỹ Hào"\n'
        "a@b\n"
        "BI.THU@example.vn,Nguyễn Văn Bí (sửa),\n",
        encoding="utf-8",
    )
    r = run("subscribers", "import", str(csv), "--active", cwd=tmp_path)
    assert r.returncode == 1  # some lines were skipped
    assert "line 3:" in r.stderr and "khong-hop-le" in r.stderr
    assert "line 6:" in r.stderr and "'a@b'" in r.stderr
    assert "2 added, 1 updated, 2 skipped" in r.stdout
    with open_app(tmp_path) as app:
        ms = app.store.mail
        bi = ms.by_email("bi.thu@example.vn")
        assert bi is not None and bi.status == "active" and bi.name == "Nguyễn Văn Bí (sửa)"
        assert bi.unit == "Huyện ủy Khoái Châu" and bi.origin == "import:danh-sach.csv"
        pho = ms.by_email("pho.bi.thu@example.vn")
        assert pho is not None and pho.name == "Trần Thị Phó, Tiến sĩ"
    assert not (tmp_path / "outbox").exists()  # --active: no confirmation emails


def test_import_without_active_sends_confirmations(tmp_path: Path) -> None:
    write_config(tmp_path)
    csv = tmp_path / "list.csv"
    csv.write_text("x1@example.vn;Một\nx2@example.vn;Hai\n", encoding="utf-8")
    r = run("subscribers", "import", str(csv), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "2 added, 0 updated, 0 skipped, 2 confirmation emails sent" in r.stdout
    assert sorted(m["To"].addresses[0].addr_spec for m in outbox_messages(tmp_path)) == [
        "x1@example.vn",
        "x2@example.vn",
    ]
    # Importing again sends nothing new (each was already asked once).
    r = run("subscribers", "import", str(csv), cwd=tmp_path)
    assert "0 added, 2 updated, 0 skipped, 0 confirmation emails sent" in r.stdout


def test_digest_preview_send_status(tmp_path: Path) -> None:
    write_config(tmp_path)
    assert run("import", "-q", str(SAMPLES), cwd=tmp_path).returncode == 0
    run("subscribers", "add", "doc@example.vn", "--name", "Đỗ Đức Độ", "--active", cwd=tmp_path)

    r = run("digest", "preview", "--week", "2026-W48", "--out", "xem", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for ext in ("html", "txt", "eml"):
        assert (tmp_path / "xem" / f"2026-W48.{ext}").stat().st_size > 1000
    eml = email.message_from_bytes(
        (tmp_path / "xem" / "2026-W48.eml").read_bytes(), policy=email.policy.default
    )
    assert eml["Subject"].startswith("Bản tin tuần 48/2026")
    assert "TGFEEDTOKEN" not in (tmp_path / "xem" / "2026-W48.html").read_text("utf-8")

    r = run("digest", "send", "--week", "2026-W48", "--dry-run", cwd=tmp_path)
    assert r.returncode == 0 and "dry run" in r.stdout and "1 subscribers" in r.stdout
    r = run("digest", "send", "--week", "2026-W48", "--to", "thu@example.vn", cwd=tmp_path)
    assert r.returncode == 0 and "test message sent" in r.stdout
    r = run("digest", "status", cwd=tmp_path)
    assert "no digest sent yet" in r.stdout  # neither the dry run nor the test counted
    r = run("digest", "send", "--week", "2026-W48", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "sent: 1 sent now; 1 sent, 0 failed, 0 pending of 1" in r.stdout
    r = run("digest", "send", "--week", "2026-W48", cwd=tmp_path)
    assert "already sent" in r.stdout
    r = run("digest", "status", cwd=tmp_path)
    assert "2026-W48" in r.stdout and "sent" in r.stdout and "1 active" in r.stdout
    r = run("digest", "status", "--week", "2026-w48", cwd=tmp_path)
    assert "1 sent" in r.stdout
    r = run("digest", "send", "--week", "48", cwd=tmp_path)
    assert r.returncode == 1 and "not an ISO week key" in r.stderr
    assert [m["To"].addresses[0].addr_spec for m in outbox_messages(tmp_path)] == [
        "thu@example.vn",
        "doc@example.vn",
    ] or sorted(m["To"].addresses[0].addr_spec for m in outbox_messages(tmp_path)) == [
        "doc@example.vn",
        "thu@example.vn",
    ]


def test_demo_sends_the_sample_week_to_the_outbox(tmp_path: Path) -> None:
    r = run("demo", "--dir", "demo", "--no-serve", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "digest: 2026-W48: sent" in r.stdout
    assert "tgfeed-demo" not in r.stdout
    msgs = list((tmp_path / "demo" / "outbox" / "new").iterdir())
    assert len(msgs) == 1
    assert str(tmp_path / "demo" / "outbox" / "new") in r.stdout.replace("\n", "")


# -- the store's rules -----------------------------------------------------------


def test_subscription_requests_and_statuses(app: App) -> None:
    ms = app.store.mail
    sub, due = ms.request_subscription("a@example.vn", now=NOW, name="A")
    assert sub.status == "pending" and due
    ms.confirmation_sent(sub.id, now=NOW)
    again, due = ms.request_subscription("A@EXAMPLE.VN", now=NOW + timedelta(minutes=5))
    assert again.id == sub.id and not due  # throttled
    _, due = ms.request_subscription("a@example.vn", now=NOW + timedelta(minutes=11))
    assert due
    active = ms.confirm(sub.id, now=NOW)
    assert active is not None and active.status == "active" and active.confirmed_at == NOW
    _, due = ms.request_subscription("a@example.vn", now=NOW + timedelta(days=1))
    assert not due and ms.subscriber(sub.id).status == "active"  # type: ignore[union-attr]
    gone = ms.unsubscribe(sub.id, now=NOW)
    assert gone is not None and gone.status == "unsubscribed"
    assert ms.confirm(sub.id, now=NOW).status == "unsubscribed"  # type: ignore[union-attr]
    back, due = ms.request_subscription("a@example.vn", now=NOW + timedelta(days=2))
    assert back.status == "pending" and due
    assert ms.count_subscribers() == {"pending": 1, "active": 0, "unsubscribed": 0, "bounced": 0}


def test_snapshot_is_one_transaction_of_active_subscribers(app: App) -> None:
    ms = app.store.mail
    ms.bulk_add(
        [(f"s{i}@example.vn", None, None) for i in range(5)], now=NOW, status="active", origin="t"
    )
    ms.add_subscriber("cho@example.vn", now=NOW)  # pending: not in the snapshot
    record, created = ms.start_digest(
        "2026-W48",
        subject="s",
        article_count=1,
        mail_html="h",
        mail_text="t",
        web_html="w",
        web_text="w",
        now=NOW,
    )
    assert created and record.recipients == 5
    assert ms.delivery_counts(record.id)["pending"] == 5
    ms.add_subscriber("late@example.vn", now=NOW, status="active")
    again, created = ms.start_digest(
        "2026-W48",
        subject="other",
        article_count=9,
        mail_html="",
        mail_text="",
        web_html="",
        web_text="",
        now=NOW,
    )
    assert not created and again.id == record.id and again.subject == "s"
    assert ms.delivery_counts(record.id)["pending"] == 5  # joined after the snapshot


# -- tokens ----------------------------------------------------------------------


def test_tokens_round_trip_and_refuse_forgery() -> None:
    signer = Signer(b"k" * 32)
    token = signer.issue("unsubscribe", 123456789, now=NOW, max_age=3600)
    assert len(token) == TOKEN_LENGTH and token.isascii()
    assert all(c.isalnum() or c in "-_" for c in token)
    assert signer.verify(token, "unsubscribe", now=NOW + timedelta(minutes=59)) == 123456789
    with pytest.raises(TokenError) as exc:
        signer.verify(token, "unsubscribe", now=NOW + timedelta(hours=2))
    assert exc.value.reason == "expired"
    with pytest.raises(TokenError) as exc:
        signer.verify(token, "confirm", now=NOW)
    assert exc.value.reason == "invalid"
    with pytest.raises(TokenError):
        Signer(b"x" * 32).verify(token, "unsubscribe", now=NOW)
    for i in range(TOKEN_LENGTH):  # any changed character is caught
        c = "A" if token[i] != "A" else "B"
        with pytest.raises(TokenError):
            signer.verify(token[:i] + c + token[i + 1 :], "unsubscribe", now=NOW)
    for bad in ("", "short", token + "x", "!" * TOKEN_LENGTH):
        with pytest.raises(TokenError):
            signer.verify(bad, "unsubscribe", now=NOW)


def test_key_is_generated_once_with_private_permissions(tmp_path: Path) -> None:
    write_config(tmp_path)
    config = loads((tmp_path / "config.toml").read_bytes(), source=tmp_path / "config.toml")
    key = load_key(config)
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(config) == key and len(key) == 32


def test_key_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, '[security]\nsecret_env = "TGFEED_TEST_SECRET"\n')
    config = loads((tmp_path / "config.toml").read_bytes(), source=tmp_path / "config.toml")
    monkeypatch.setenv("TGFEED_TEST_SECRET", "a-long-random-secret-value-0123456789")
    key = load_key(config)
    assert not (tmp_path / "data" / "secret.key").exists()
    monkeypatch.setenv("TGFEED_TEST_SECRET", "short")
    with pytest.raises(ConfigError, match="shorter than 16"):
        load_key(config)
    monkeypatch.delenv("TGFEED_TEST_SECRET")
    with pytest.raises(ConfigError, match="TGFEED_TEST_SECRET is not set"):
        load_key(config)
    assert len(key) == 32
    assert os.environ.get("TGFEED_TEST_SECRET") is None

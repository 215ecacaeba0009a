"""Building the digest message: headers, encodings, per-recipient substitution."""

from __future__ import annotations

import email
import email.policy
import quopri
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tgfeed.digest.message import (
    Sender,
    build_digest,
    check_address,
    encoded_words,
    format_address,
    message_id,
    quoted_printable,
    simple_message,
)
from tgfeed.errors import SubscriberError
from tgfeed.tokens import TOKEN_LENGTH, placeholder

PH = placeholder()
SENDER = Sender(
    address="bantin@tuyengiaohungyen.vn",
    name="Ban Tuyên giáo Tỉnh ủy Hưng Yên",
    list_id="bantin.tuyengiaohungyen.vn",
    list_name="Bản tin tuần Ban Tuyên giáo Tỉnh ủy Hưng Yên",
    unsubscribe_mailto="huy-dang-ky@tuyengiaohungyen.vn",
    archive_url="https://tin.example.vn/digests/",
)
DATE = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
TEXT = (
    "BẢN TIN TUẦN 48/2026\nHội nghị giao ban — đ Đ ơ ư ă â ê ô ỹ ỵ\n"
    f"Hủy đăng ký:\nhttps://tin.example.vn/unsubscribe/{PH}\n"
)
HTML = (
    '<!DOCTYPE html><html lang="vi"><body><p>Hội nghị giao ban — Đảng ủy</p>'
    f'<a href="https://tin.example.vn/unsubscribe/{PH}">Hủy đăng ký</a></body></html>'
)


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def build(subject: str = "Bản tin tuần 48/2026 (23/11 – 29/11/2026): 7 tin hội nghị") -> bytes:
    template = build_digest(
        subject=subject,
        html=HTML,
        text=TEXT,
        sender=SENDER,
        date=DATE,
        week="2026-W48",
        unsubscribe_url=f"https://tin.example.vn/unsubscribe/{PH}",
        placeholder=PH,
    )
    return template.personalize(
        email="Duc.Nguyen@Example.VN",
        name="Nguyễn Văn Đức",
        subscriber_id=42,
        token="T" * TOKEN_LENGTH,
    )


def test_every_header_parses_back() -> None:
    data = build()
    msg = parse(data)
    assert msg["From"].addresses[0].display_name == "Ban Tuyên giáo Tỉnh ủy Hưng Yên"
    assert msg["From"].addresses[0].addr_spec == "bantin@tuyengiaohungyen.vn"
    assert msg["To"].addresses[0].display_name == "Nguyễn Văn Đức"
    assert msg["To"].addresses[0].addr_spec == "Duc.Nguyen@example.vn"
    assert msg["Subject"] == "Bản tin tuần 48/2026 (23/11 – 29/11/2026): 7 tin hội nghị"
    assert parsedate_to_datetime(msg["Date"]) == DATE
    assert msg["Date"].endswith("+0700")
    assert msg["Message-ID"] == message_id(
        "2026-W48", 42, domain="tuyengiaohungyen.vn", list_id=SENDER.list_id
    )
    assert msg["Message-ID"].startswith("<2026-W48.42.")
    assert msg["List-Unsubscribe"] == (
        f"<https://tin.example.vn/unsubscribe/{'T' * TOKEN_LENGTH}>, "
        f"<mailto:huy-dang-ky@tuyengiaohungyen.vn?subject=unsubscribe%20{'T' * TOKEN_LENGTH}>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (
        msg["List-Id"]
        == "Bản tin tuần Ban Tuyên giáo Tỉnh ủy Hưng Yên <bantin.tuyengiaohungyen.vn>"
    )
    assert msg["List-Archive"] == "<https://tin.example.vn/digests/>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Precedence"] == "bulk"
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "multipart/alternative"
    assert not msg.defects
    text, html = list(msg.iter_parts())
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert text.get_content_charset() == "utf-8"
    # Parsed from wire bytes, the parts keep their CRLF line ends.
    assert text.get_content().replace("\r\n", "\n") == TEXT.replace(PH, "T" * TOKEN_LENGTH)
    assert html.get_content().rstrip("\r\n") == HTML.replace(PH, "T" * TOKEN_LENGTH)
    assert PH not in data.decode("ascii")


def test_message_is_seven_bit_with_short_lines() -> None:
    data = build()
    assert data.isascii()
    lines = data.split(b"\r\n")
    assert all(b"\n" not in line and b"\r" not in line for line in lines)
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):  # only a URL may make a header line long
        assert len(line) <= 78 or ((b"://" in line or b"mailto:" in line) and len(line) <= 998)
    assert max(len(line) for line in body.split(b"\r\n")) <= 76


def test_same_recipient_same_week_same_bytes_different_week_different_id() -> None:
    assert build() == build()
    a = message_id("2026-W48", 42, domain="d.vn", list_id="l")
    assert a != message_id("2026-W49", 42, domain="d.vn", list_id="l")
    assert a != message_id("2026-W48", 43, domain="d.vn", list_id="l")


@pytest.mark.parametrize(
    "evil",
    [
        "Hội nghị\r\nBcc: victim@example.com",
        "Hội nghị\nBcc: victim@example.com",
        "Hội nghị\rBcc: victim@example.com",
        "Hội nghị\u2028Bcc: victim@example.com",
        "Plain\r\n\r\nbody injection",
        "=?utf-8?q?fake?=\r\nX-Evil: 1",
    ],
)
def test_cr_lf_never_reaches_a_header(evil: str) -> None:
    template = build_digest(
        subject=evil,
        html=HTML,
        text=TEXT,
        sender=Sender(
            address="bantin@tuyengiaohungyen.vn",
            name=evil,
            list_id="bantin.tuyengiaohungyen.vn",
            list_name=evil,
        ),
        date=DATE,
        week="2026-W48",
        unsubscribe_url=f"https://tin.example.vn/unsubscribe/{PH}\r\nX-Evil: 1",
        placeholder=PH,
    )
    data = template.personalize(
        email="a@example.vn", name=evil, subscriber_id=1, token="T" * TOKEN_LENGTH
    )
    msg = parse(data)
    assert "Bcc" not in msg
    assert "X-Evil" not in msg
    assert msg["Subject"] == " ".join(evil.replace("\u2028", " ").split())
    assert msg["To"].addresses[0].addr_spec == "a@example.vn"
    head = data.partition(b"\r\n\r\n")[0]
    for line in head.split(b"\r\n"):
        assert line[:1] in (b" ", b"\t") or b":" in line  # every line is a header or a fold


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "no-at-sign",
        "a@b",
        "a@@b.vn",
        "a b@c.vn",
        "a@b.vn\r\nBcc: x@y.vn",
        "đức@example.vn",
        ".a@b.vn",
        "a..b@c.vn",
        "a@-b.vn",
        "<a@b.vn>",
        "a@b.vn,c@d.vn",
    ],
)
def test_invalid_addresses_are_refused(bad: str) -> None:
    with pytest.raises(SubscriberError, match="not an email address"):
        check_address(bad)


def test_address_normalisation() -> None:
    assert check_address("  Ban.Doc+tin@Example.VN ") == "Ban.Doc+tin@example.vn"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (None, "a@b.vn"),
        ("", "a@b.vn"),
        ("Tran Van A", "Tran Van A <a@b.vn>"),
        ('Ban "A", B', '"Ban \\"A\\", B" <a@b.vn>'),
    ],
)
def test_ascii_display_names(name: str | None, expected: str) -> None:
    assert format_address(name, "a@b.vn") == expected


@given(st.text(min_size=1, max_size=200))
def test_encoded_words_round_trip(text: str) -> None:
    encoded = encoded_words(text)
    assert encoded.isascii()
    for word in encoded.split("\r\n "):
        assert len(word) <= 75
    msg = parse(f"Subject: {encoded}\r\n\r\n".encode("ascii"))
    assert msg["Subject"] == text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ") or (
        msg["Subject"].split() == text.split()
    )


@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120),
            st.just(PH),
        ),
        max_size=12,
    )
)
def test_quoted_printable_never_splits_the_token(chunks: list[str]) -> None:
    text = "".join(chunks).replace("\r", "")
    encoded = quoted_printable(text, PH.encode())
    for line in encoded.split(b"\r\n"):
        assert len(line) <= 76
    assert encoded.count(PH.encode()) == text.count(PH)
    token = "Z" * TOKEN_LENGTH
    swapped = encoded.replace(PH.encode(), token.encode())
    for line in swapped.split(b"\r\n"):
        assert len(line) <= 76  # the same length: no line moves
    decoded = quopri.decodestring(swapped.replace(b"\r\n", b"\n")).decode("utf-8")
    assert decoded == text.replace(PH, token)


def test_simple_message() -> None:
    data = simple_message(
        sender=SENDER,
        to=["a@example.vn", "b@example.vn"],
        subject="Xác nhận đăng ký nhận bản tin tuần",
        text="Xin chào,\nĐể xác nhận, xin mở đường dẫn sau:\nhttps://x.vn/confirm/abc\n",
        date=DATE,
        message_id="<abc@tuyengiaohungyen.vn>",
    )
    msg = parse(data)
    assert [a.addr_spec for a in msg["To"].addresses] == ["a@example.vn", "b@example.vn"]
    assert msg["Subject"] == "Xác nhận đăng ký nhận bản tin tuần"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content().replace("\r\n", "\n") == (
        "Xin chào,\nĐể xác nhận, xin mở đường dẫn sau:\nhttps://x.vn/confirm/abc\n"
    )

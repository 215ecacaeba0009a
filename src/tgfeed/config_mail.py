"""The mail and digest sections of the configuration (see ``config``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from .config_fields import (
    DEFAULT_DATA_DIR as DEFAULT_DATA_DIR,
)
from .config_fields import (
    Duration as Duration,
)
from .config_fields import (
    Email as Email,
)
from .config_fields import (
    SecretRef as SecretRef,
)
from .config_fields import (
    _check_email as _check_email,
)
from .config_fields import (
    _duration as _duration,
)
from .config_fields import (
    _Section as _Section,
)
from .config_fields import (
    read_secret as read_secret,
)


class SmtpConfig(_Section):
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    tls: bool = False
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    timeout: float = Field(default=30.0, gt=0)
    connections: int = Field(default=4, ge=1, le=64)
    max_per_minute: int = Field(default=600, ge=1)
    max_attempts: int = Field(default=5, ge=1, le=50)
    retry_delay: float = Field(default=30.0, ge=0)  # seconds; doubles on each retry

    @model_validator(mode="after")
    def _tls(self) -> SmtpConfig:
        if self.starttls and self.tls:
            raise ValueError("choose one of starttls = true (port 587) or tls = true (port 465)")
        return self

    def password(self) -> str | None:
        return read_secret(self.password_env, self.password_file, "mail.smtp.password")


class DkimConfig(_Section):
    domain: str
    selector: str
    key_file: Path


class InboxConfig(_Section):
    """The mailbox that receives bounces and mailto: unsubscribes (docs/inbox.md):
    a Maildir an MTA delivers into, or an IMAP folder over TLS."""

    maildir: Path | None = None
    host: str | None = None
    port: int = Field(default=993, ge=1, le=65535)
    user: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    folder: str = "INBOX"
    # Where processed messages go (an IMAP folder, or a Maildir++ subfolder);
    # unset: they stay where they are, marked seen.
    processed_folder: str | None = None
    ca_file: Path | None = None  # trust this CA (a self-signed relay) besides the system's
    timeout: float = Field(default=30.0, gt=0)
    batch: int = Field(default=500, ge=1, le=10_000)

    @model_validator(mode="after")
    def _one_kind(self) -> InboxConfig:
        if (self.maildir is None) == (self.host is None):
            raise ValueError('give exactly one of maildir = "path" or host = "imap.example.vn"')
        if self.host is not None and not self.user:
            raise ValueError("an IMAP inbox needs user (and password_env or password_file)")
        if self.processed_folder is not None and not re.fullmatch(
            r"[\w .-]{1,100}", self.processed_folder
        ):
            raise ValueError('processed_folder must be a plain folder name, e.g. "processed"')
        return self

    def password(self) -> str | None:
        return read_secret(self.password_env, self.password_file, "mail.inbox.password")


class MailConfig(_Section):
    backend: Literal["outbox", "smtp"] = "outbox"
    outbox_dir: Path = Path(DEFAULT_DATA_DIR) / "outbox"
    from_address: Email = "bantin@tuyengiaohungyen.vn"
    from_name: str = "Ban Tuyên giáo Tỉnh ủy Hưng Yên"
    reply_to: Email | None = None
    envelope_from: Email | None = None
    unsubscribe_mailto: Email | None = None
    list_id: str = "bantin.tuyengiaohungyen.vn"
    bounce_limit: int = Field(default=3, ge=1)
    smtp: SmtpConfig = SmtpConfig()
    dkim: DkimConfig | None = None
    inbox: InboxConfig | None = None


DEFAULT_KEYWORDS = [
    "hội nghị",
    "giao ban",
    "hội thảo",
    "tọa đàm",
    "sơ kết",
    "tổng kết",
    "tập huấn",
    "họp",
]


class DigestSection(_Section):
    title: str
    keywords: list[str] = []
    categories: list[str] = []


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DEADLINE = re.compile(r"^\s*([A-Za-z]{3})\s+(\d{1,2}):(\d{2})\s*$")


def parse_deadline(value: str) -> tuple[int, int, int]:
    """``"Mon 11:00"`` → (weekday 0–6, hour, minute); ValueError otherwise."""
    m = _DEADLINE.match(value)
    day = m[1].lower() if m else ""
    if not m or day not in WEEKDAYS or int(m[2]) > 23 or int(m[3]) > 59:
        raise ValueError(f'not a weekday and a time like "Mon 11:00": {value!r}')
    return WEEKDAYS.index(day), int(m[2]), int(m[3])


class DigestConfig(_Section):
    enabled: bool = True
    categories: list[str] = ["thong-tin-tuyen-truyen/tin-tuc-hoat-dong"]
    keywords: list[str] = DEFAULT_KEYWORDS
    sections: list[DigestSection] = [
        DigestSection(title="Hội nghị", keywords=DEFAULT_KEYWORDS),
        DigestSection(title="Hoạt động"),
    ]
    most_read: int = Field(default=5, ge=0, le=50)
    max_items: int = Field(default=60, ge=1, le=500)
    send_empty: bool = False
    token_max_age: Duration = 60 * 60 * 24 * 7 * 8
    confirm_max_age: Duration = 60 * 60 * 24 * 3
    # Fresh sources: the scheduled digest is held when the newest ingest is older.
    max_source_age: Duration | None = None
    hold_retry: Duration = 900  # a held scheduled digest is retried this often, within grace
    # Editorial approval (off by default): a draft mailed to approvers, sent once approved.
    approval: bool = False
    approvers: list[Email] = []
    approval_deadline: str | None = None  # "Mon 11:00", local time
    on_deadline: Literal["send", "hold"] = "hold"

    @field_validator("approval_deadline")
    @classmethod
    def _deadline(cls, value: str | None) -> str | None:
        if value is not None:
            parse_deadline(value)
        return value

    @model_validator(mode="after")
    def _approvers(self) -> DigestConfig:
        if self.approval and not self.approvers:
            raise ValueError('approval = true needs approvers = ["address", …]')
        return self

    @field_validator("categories")
    @classmethod
    def _slugs(cls, value: list[str]) -> list[str]:
        for slug in value:
            if not re.fullmatch(r"[a-z0-9-]+(?:/[a-z0-9-]+)*", slug):
                raise ValueError(
                    f"{slug!r} is not a category slug path like thong-tin-tuyen-truyen/tin-tuc"
                )
        return value

"""The TOML configuration: load, validate (every problem, with its dotted path), defaults.

With no file at all, the embedded defaults apply: SQLite under ``./tgfeed-data/``
and a Maildir outbox. Secrets never live in the TOML: only ``*_env`` / ``*_file``
keys that name where to read them.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from . import ids
from .errors import ConfigError
from .private import check_private

ENV_VAR = "TGFEED_CONFIG"
DEFAULT_FILE = "config.toml"
DEFAULT_DATA_DIR = "tgfeed-data"

# Keys that would hold a secret in clear text; each must be given as *_env / *_file.
SECRET_KEYS = {"password", "token", "secret", "api_token", "admin_token", "key"}

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | int) -> int:
    """``"15m"`` → 900 seconds; an int is taken as seconds."""
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        return value
    m = _DURATION.match(value)
    if not m:
        raise ValueError(f"not a duration like 30s, 15m, 6h, 1d: {value!r}")
    return int(m[1]) * _DURATION_UNITS[m[2]]


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value.rstrip("/")


def _check_tz(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {value!r} (use an IANA name like Asia/Ho_Chi_Minh)"
        ) from None
    return value


_EMAIL = re.compile(
    r"^[^@\s<>\"',;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)


def _check_email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value) or "\r" in value or "\n" in value:
        raise ValueError(f"not an email address: {value!r}")
    return value


def _check_network(value: str) -> str:
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(
            f"not an IP address or CIDR like 127.0.0.1 or 10.0.0.0/8: {value!r}"
        ) from None
    return value.strip()


Url = Annotated[str, AfterValidator(_check_url)]
TimeZone = Annotated[str, AfterValidator(_check_tz)]
Email = Annotated[str, AfterValidator(_check_email)]


def _duration(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


Duration = Annotated[int, BeforeValidator(_duration), Field(ge=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Section):
    """Where a secret comes from: an environment variable or a file."""

    env: str | None = None
    file: Path | None = None


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# Names that are shown in messages: the usual upper-case form, not too long. Anything
# else that is set as *_env may be the secret itself, pasted by mistake.
_SHOWN_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")


def read_secret(env: str | None, file: Path | None, what: str) -> str | None:
    """The secret named by ``*_env`` / ``*_file``; None when neither is set."""
    if env:
        if not _ENV_NAME.fullmatch(env):  # maybe the secret itself: never repeat it
            raise ConfigError(
                f"{what}_env: is not the name of an environment variable "
                "(the value is not shown: it may be the secret itself)",
                hint=f"put the secret in a variable, e.g. TGFEED_X, and set {what}_env = "
                '"TGFEED_X"',
            )
        value = os.environ.get(env)
        if value is None:
            if not _SHOWN_NAME.fullmatch(env):  # e.g. a pasted token: do not repeat it
                raise ConfigError(
                    f"{what}: the environment variable named by {what}_env is not set "
                    "(the name is not shown: it looks like a secret, not a variable name)",
                    hint=f'{what}_env must name a variable, e.g. "TGFEED_X"; export it',
                )
            raise ConfigError(
                f"{what}: environment variable {env} is not set",
                hint=f"export {env}=… before starting tgfeed",
            )
        return value.strip()
    if file:
        check_private(file, f"{what}_file")
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"{what}: cannot read {file}: {exc.strerror}",
                hint="check the path and its permissions",
            ) from exc
    return None


def _site_url(value: str) -> str:
    return ids.normalise_site_url(_check_url(value))


class SiteConfig(_Section):
    title: str = "Ban Tuyên giáo Tỉnh ủy Hưng Yên"
    description: str = "Tin bài của Ban Tuyên giáo Tỉnh ủy Hưng Yên"
    # Stored normalised (scheme and host lower case, no user info, no default port):
    # every id and link is made from this one form.
    url: Annotated[str, AfterValidator(_site_url)] = "https://tuyengiaohungyen.vn"
    public_url: Url = "http://127.0.0.1:8080"
    publisher: str = "BAN TUYÊN GIÁO TỈNH ỦY HƯNG YÊN"
    attribution: str = (
        'Ghi rõ nguồn "tuyengiaohungyen.vn" khi bạn phát hành lại thông tin từ website này.'
    )
    timezone: TimeZone = "Asia/Ho_Chi_Minh"
    icon: Url | None = None
    logo: Url | None = None
    language: str = "vi"

    @property
    def tag_authority(self) -> str:
        """The authority of every tag URI id (see ``tgfeed.ids``)."""
        return ids.authority(self.url)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class StoreConfig(_Section):
    path: Path = Path(DEFAULT_DATA_DIR) / "tgfeed.db"
    busy_timeout: Duration = 5000  # milliseconds


class CategoryConfig(_Section):
    path: list[str] = Field(min_length=1)
    slug: str | None = None
    description: str | None = None

    @field_validator("path")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        if any(not name.strip() for name in value):
            raise ValueError("category names must not be empty")
        return value

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", value):
            raise ValueError(f"slug {value!r} must be lower-case letters, digits and dashes")
        return value


class FeedsConfig(_Section):
    output_dir: Path = Path(DEFAULT_DATA_DIR) / "public"
    items: int = Field(default=50, ge=1, le=1000)
    content: Literal["full", "summary"] = "full"
    cache_control: str = "public, max-age=300"
    hub: Url | None = None
    hub_retries: int = Field(default=3, ge=0, le=10)  # extra attempts per notification
    hub_backoff: float = Field(default=2.0, ge=0)  # seconds before the first retry, doubling
    hub_timeout: float = Field(default=10.0, gt=0)
    tombstone_days: int = Field(default=30, ge=0, le=3650)  # Atom keeps retractions this long
    search_max_results: int = Field(default=50, ge=1, le=500)
    search_max_query: int = Field(default=100, ge=3, le=1000)
    # <img> in feed entries: every one, none, or only https: sources (docs/feeds.md).
    images: Literal["keep", "drop", "https-only"] = "https-only"


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


class WebConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    api_token_env: str | None = None
    api_token_file: Path | None = None
    admin_token_env: str | None = None
    admin_token_file: Path | None = None
    subscribe_per_hour: int = Field(default=10, ge=1)
    max_body_bytes: int = Field(default=5_000_000, ge=1024)
    body_timeout: float = Field(default=30.0, gt=0)  # seconds for a whole request body
    access_log: bool = False  # uvicorn's line per request (nginx keeps its own log)
    # Peers whose X-Forwarded-For / -Proto are believed (addresses or CIDRs).
    trusted_proxies: list[Annotated[str, AfterValidator(_check_network)]] = []

    def api_token(self) -> str | None:
        return read_secret(self.api_token_env, self.api_token_file, "web.api_token")

    def admin_token(self) -> str | None:
        return read_secret(self.admin_token_env, self.admin_token_file, "web.admin_token")


class SecurityConfig(_Section):
    """The HMAC key for confirmation/unsubscribe links (generated on first run if unset)."""

    secret_env: str | None = None
    secret_file: Path | None = None


JobKind = Literal["ingest", "crawl", "build_feeds", "send_digest", "cleanup", "process_inbox"]


class JobConfig(_Section):
    kind: JobKind
    cron: str | None = None
    every: Duration | None = None
    enabled: bool = True
    misfire_grace: Duration = 3600
    jitter: Duration = 0
    source: str | None = None
    after: list[str] = []  # jobs run first, each time this one runs (e.g. ["crawl_site"])

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            check_cron(value)
        return value

    @model_validator(mode="after")
    def _trigger(self) -> JobConfig:
        if (self.cron is None) == (self.every is None):
            raise ValueError('give exactly one trigger: cron = "0 7 * * mon" or every = "15m"')
        if self.every is not None and self.every < 10:
            raise ValueError("every must be at least 10s")
        return self


def check_cron(expr: str) -> None:
    """Raise ValueError unless ``expr`` is a 5-field crontab expression."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"cron {expr!r} must have 5 fields: minute hour day month weekday")
    # Whether the fields' values are valid is the scheduler's to say: the loader
    # (``tgfeed.loader``) merges those problems with the schema's.


def _default_jobs() -> dict[str, JobConfig]:
    return {
        "build_feeds": JobConfig(kind="build_feeds", every=900, misfire_grace=900),
        "weekly_digest": JobConfig(kind="send_digest", cron="0 7 * * mon", misfire_grace=6 * 3600),
        "cleanup": JobConfig(kind="cleanup", cron="30 3 * * *", misfire_grace=6 * 3600),
    }


class ScheduleConfig(_Section):
    timezone: TimeZone = "Asia/Ho_Chi_Minh"
    jobs: dict[str, JobConfig] = Field(default_factory=_default_jobs)

    @field_validator("jobs")
    @classmethod
    def _names(cls, value: dict[str, JobConfig]) -> dict[str, JobConfig]:
        for name in value:
            if not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
                raise ValueError(f"job name {name!r} must be lower-case letters, digits, _ or -")
        return value


class AdminConfig(_Section):
    alert_to: list[Email] = []
    alert_interval: Duration = 3600
    # The web console (/admin/): session expiry and the login rate limit.
    session_idle: Duration = Field(default=30 * 60, ge=60)
    session_lifetime: Duration = Field(default=12 * 3600, ge=300)
    login_attempts: int = Field(default=5, ge=1)  # failures per account per window
    login_attempts_client: int = Field(default=20, ge=1)  # failures per client per window
    login_window: Duration = Field(default=15 * 60, ge=60)


class SourceConfig(_Section):
    name: str
    kind: Literal["site", "feed", "directory"]
    enabled: bool = True
    # site
    listing_urls: list[Url] = []
    article_pattern: str = r"/bai-viet/.*\.aspx$"
    pagination_pattern: str | None = None
    max_pages: int = Field(default=5, ge=1, le=1000)
    # feed
    url: Url | None = None
    # directory
    path: Path | None = None
    # common
    category: list[str] | None = None
    allow_private: bool = False
    allowed_hosts: list[str] = []
    concurrency: int = Field(default=2, ge=1, le=16)
    delay: float = Field(default=1.0, ge=0)
    timeout: float = Field(default=20.0, gt=0)
    max_bytes: int = Field(default=5_000_000, ge=1024)
    retries: int = Field(default=2, ge=0, le=10)  # extra attempts on 5xx / timeouts
    backoff: float = Field(default=2.0, ge=0)  # seconds before the first retry, doubling
    max_redirects: int = Field(default=5, ge=0, le=20)
    robots: bool = True  # honour robots.txt (turn off only with the site owner's consent)
    refresh_days: int = Field(default=3, ge=0, le=365)  # re-check recent articles' views
    alert_after: int = Field(default=3, ge=1)  # consecutive failed runs → failing
    # A stored article whose page answers 404/410 on this many crawls in a row is
    # retracted (an Atom tombstone); 0: never retract automatically.
    retract_gone: int = Field(default=2, ge=0, le=100)

    @field_validator("article_pattern", "pagination_pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _kind(self) -> SourceConfig:
        if self.kind == "site" and not self.listing_urls:
            raise ValueError("a site source needs listing_urls")
        if self.kind == "feed" and not self.url:
            raise ValueError("a feed source needs url")
        if self.kind == "directory" and not self.path:
            raise ValueError("a directory source needs path")
        return self


class Config(_Section):
    templates_dir: Path | None = None
    user_agent: str = "tgfeed (+https://tuyengiaohungyen.vn)"
    site: SiteConfig = SiteConfig()
    store: StoreConfig = StoreConfig()
    categories: list[CategoryConfig] = []
    feeds: FeedsConfig = FeedsConfig()
    mail: MailConfig = MailConfig()
    digest: DigestConfig = DigestConfig()
    web: WebConfig = WebConfig()
    security: SecurityConfig = SecurityConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    admin: AdminConfig = AdminConfig()
    sources: list[SourceConfig] = []

    # Where the config came from (None: embedded defaults); not a TOML key.
    source_path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _inbox_job(cls, data: Any) -> Any:
        """With ``[mail.inbox]`` set, a ``process_inbox`` job (every 10 minutes) is
        scheduled unless a job of that kind or name is already configured."""
        mail = data.get("mail") if isinstance(data, dict) else None
        if not isinstance(mail, dict) or mail.get("inbox") is None:
            return data
        schedule = data.get("schedule", {})
        if not isinstance(schedule, dict):
            return data
        jobs = schedule.get("jobs")
        if jobs is None:
            jobs = {n: j.model_dump(exclude_none=True) for n, j in _default_jobs().items()}
        if not isinstance(jobs, dict) or "process_inbox" in jobs:
            return data
        if any(isinstance(j, dict) and j.get("kind") == "process_inbox" for j in jobs.values()):
            return data
        inbox_job = {"kind": "process_inbox", "every": 600, "misfire_grace": 600}
        return {**data, "schedule": {**schedule, "jobs": {**jobs, "process_inbox": inbox_job}}}

    @model_validator(mode="after")
    def _sources_unique(self) -> Config:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique: {', '.join(dupes)}")
        for name, job in self.schedule.jobs.items():
            if job.source and job.source not in names:
                raise ValueError(f"schedule.jobs.{name}.source: no source named {job.source!r}")
        return self

    @property
    def base_dir(self) -> Path:
        return self.source_path.parent if self.source_path else Path.cwd()

    def resolve(self, path: Path) -> Path:
        """A config path, relative to the config file's folder (or the cwd)."""
        return path if path.is_absolute() else self.base_dir / path

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.store.path).parent


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _format_loc(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif "[" in item or item.startswith("function-"):
            continue  # pydantic's validator tags, not config keys
        else:
            # A key that is not a bare TOML key is shown quoted, escapes and all, so a
            # message stays one printable line whatever the file holds.
            key = item if _BARE_KEY.fullmatch(item) else json.dumps(item)
            parts.append(("." if parts else "") + key)
    return "".join(parts) or "(top level)"


def describe_error(err: Any) -> str:
    loc = tuple(err["loc"])
    key = str(loc[-1]) if loc else ""
    if err["type"] == "extra_forbidden":
        if key in SECRET_KEYS:
            return (
                f"{_format_loc(loc)}: secrets never go in the TOML; "
                f"use {key}_env (environment variable) or {key}_file"
            )
        return f"{_format_loc(loc)}: unknown key (check its spelling and section)"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    if err["type"] == "missing":
        msg = "required key is missing"
    elif err["type"].endswith("_type") or err["type"].endswith("_parsing"):
        msg = f"{msg} (got {err['input']!r})"
    return f"{_format_loc(loc)}: {msg}"

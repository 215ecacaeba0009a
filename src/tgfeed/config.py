"""The TOML configuration: load, validate (every problem, with its dotted path), defaults.

With no file at all, the embedded defaults apply: SQLite under ``./tgfeed-data/``
and a Maildir outbox. Secrets never live in the TOML: only ``*_env`` / ``*_file``
keys that name where to read them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    Field,
    field_validator,
    model_validator,
)

from . import ids
from .config_fields import (
    DEFAULT_DATA_DIR as DEFAULT_DATA_DIR,
)
from .config_fields import (
    DEFAULT_FILE as DEFAULT_FILE,
)

# The sections live in config_fields / config_mail; tgfeed.config is their public name.
from .config_fields import (
    ENV_VAR as ENV_VAR,
)
from .config_fields import (
    SECRET_KEYS as SECRET_KEYS,
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
    TimeZone as TimeZone,
)
from .config_fields import (
    Url as Url,
)
from .config_fields import (
    _check_email as _check_email,
)
from .config_fields import (
    _check_network as _check_network,
)
from .config_fields import (
    _check_tz as _check_tz,
)
from .config_fields import (
    _check_url as _check_url,
)
from .config_fields import (
    _duration as _duration,
)
from .config_fields import (
    _Section as _Section,
)
from .config_fields import describe_error as describe_error
from .config_fields import (
    parse_duration as parse_duration,
)
from .config_fields import (
    read_secret as read_secret,
)
from .config_mail import (
    DEFAULT_KEYWORDS as DEFAULT_KEYWORDS,
)
from .config_mail import (
    WEEKDAYS as WEEKDAYS,
)
from .config_mail import (
    DigestConfig as DigestConfig,
)
from .config_mail import (
    DigestSection as DigestSection,
)
from .config_mail import (
    DkimConfig as DkimConfig,
)
from .config_mail import (
    InboxConfig as InboxConfig,
)
from .config_mail import (
    MailConfig as MailConfig,
)
from .config_mail import (
    SmtpConfig as SmtpConfig,
)
from .config_mail import (
    parse_deadline as parse_deadline,
)
from .defaults import DEFAULT_OUTPUT_DIR, DEFAULT_STORE


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
    path: Path = DEFAULT_STORE
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
    output_dir: Path = DEFAULT_OUTPUT_DIR
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

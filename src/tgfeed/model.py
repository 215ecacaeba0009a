"""Domain objects: frozen, slotted dataclasses. Dict rows live only inside the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from .text import slugify

Outcome = Literal["added", "updated", "unchanged", "failed"]

# What a job run did (the runner records "interrupted" for an incomplete run that a
# shutdown cut short, and "missed" for a fire time beyond its grace).
# "held": the digest waits for fresh sources (it alerted; the scheduler retries).
JobOutcome = Literal["ok", "skipped", "held", "incomplete", "failed"]
RunStatus = Literal["ok", "skipped", "held", "failed", "interrupted", "missed"]


@dataclass(frozen=True, slots=True)
class JobResult:
    """One run of a job: its outcome, a JSON-able summary, and why when not ok."""

    outcome: JobOutcome
    summary: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """One article. ``id`` is stable and source-scoped (a tag URI), never from the title."""

    id: str
    url: str
    title: str
    category: tuple[str, ...]
    published_at: datetime
    body_text: str
    body_html: str = ""
    summary: str = ""
    author: str | None = None
    views: int = 0
    signature: str | None = None
    related: tuple[str, ...] = ()
    updated_at: datetime | None = None
    category_slugs: tuple[str, ...] | None = None  # per-level slug overrides

    @property
    def category_slug(self) -> str:
        slugs = self.category_slugs or tuple(slugify(name) for name in self.category)
        return "/".join(slugs)


@dataclass(frozen=True, slots=True)
class ArticleKey:
    """What a listing of an article depends on, read without its text:
    ``content_hash`` changes with every field a reader sees, ``updated`` with every
    update. ``published``/``updated`` are the store's UTC ISO strings."""

    id: str
    content_hash: str
    published: str
    updated: str


@dataclass(frozen=True, slots=True)
class Category:
    id: int
    slug_path: str  # "thong-tin-tuyen-truyen/tin-tuc-hoat-dong"
    name: str
    names: tuple[str, ...]  # the full path of names
    parent_id: int | None
    description: str | None = None
    article_count: int = 0

    @property
    def depth(self) -> int:
        return len(self.names)


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What happened to one input item of a batch."""

    item: str
    outcome: Outcome
    article_id: str | None = None
    reason: str | None = None


MAX_KEPT_FAILURES = 10_000


@dataclass(slots=True)
class BatchResult:
    """Counts per outcome and the failures (bounded), not every item: a run of a
    million items stays small."""

    counts: dict[str, int] = field(
        default_factory=lambda: {"added": 0, "updated": 0, "unchanged": 0, "failed": 0}
    )
    failures: list[ItemResult] = field(default_factory=list)

    def add(self, result: ItemResult) -> None:
        self.counts[result.outcome] += 1
        if result.outcome == "failed" and len(self.failures) < MAX_KEPT_FAILURES:
            self.failures.append(result)

    def count(self, outcome: Outcome) -> int:
        return self.counts[outcome]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class SearchHit:
    article: Article
    score: float
    exact: bool


# -- mail: subscribers, digests and the delivery ledger --------------------

Status = Literal["pending", "active", "unsubscribed", "bounced"]
STATUSES: tuple[Status, ...] = ("pending", "active", "unsubscribed", "bounced")
# A week's lifecycle (docs/digest.md "States"): draft → approved → sending → sent,
# or skipped / held / rejected, which a later send re-evaluates.
DigestStatus = Literal["draft", "approved", "sending", "sent", "skipped", "held", "rejected"]
DIGEST_STATUSES: tuple[DigestStatus, ...] = (
    "draft",
    "approved",
    "sending",
    "sent",
    "skipped",
    "held",
    "rejected",
)


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: int
    email: str
    name: str | None
    unit: str | None
    status: Status
    origin: str
    created_at: datetime
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    bounce_count: int = 0
    confirm_sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DigestRecord:
    id: int
    week: str
    status: DigestStatus
    subject: str
    article_count: int
    recipients: int
    sent: int
    failed: int
    created_at: datetime
    finished_at: datetime | None
    deadline_at: datetime | None = None  # approval: when digest.on_deadline applies
    approved_by: str | None = None
    approved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DigestEvent:
    """One row of a week's append-only audit trail: a state change, who, when, why."""

    id: int
    week: str
    from_status: str | None  # None: the week's first record
    to_status: str
    actor: str  # "scheduler", "cli:<user>", an approver's address, "web"
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Recipient:
    """One pending ledger row."""

    subscriber_id: int
    email: str
    name: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    subscriber_id: int
    email: str
    status: str
    attempts: int
    last_error: str | None
    server_reply: str | None
    sent_at: datetime | None


# -- sources: what a source remembers between runs --------------------------


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """What was last fetched from one URL."""

    url: str
    source: str
    kind: str
    fetched_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    status: int | None = None
    article_id: str | None = None
    published_at: datetime | None = None
    links: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source's health for the status page and the alert."""

    name: str
    kind: str
    last_run_at: datetime | None = None
    last_ok_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_counts: dict[str, int] | None = None

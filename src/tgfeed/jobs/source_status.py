"""The configured sources and their state (last run, failure streak, last error),
for `tgfeed sources`, `tgfeed status`, the status page and the crawl job's alert.
Reading it needs the store only, not the crawler (``crawl``) and its HTTP stack."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..app import App
from ..config import SourceConfig
from ..errors import TgfeedError


def select_sources(app: App, name: str | None) -> list[SourceConfig]:
    sources = app.config.sources
    if name is None:
        return [s for s in sources if s.enabled]
    for source in sources:
        if source.name == name:
            return [source]
    known = ", ".join(s.name for s in sources) or "none configured"
    raise TgfeedError(
        f"no source named {name!r} (sources: {known})",
        hint="add it under [[sources]] in the config, or use one of the names above",
    )


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A configured source and its state, for `tgfeed sources`, the status page and alerts."""

    name: str
    kind: str
    enabled: bool
    target: str
    alert_after: int
    last_run_at: datetime | None = None
    last_ok_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_counts: dict[str, int] | None = None
    failing: bool = False  # failed ``alert_after`` runs in a row: the alert's trigger


def _target(source: SourceConfig) -> str:
    if source.kind == "site":
        more = len(source.listing_urls) - 1
        return source.listing_urls[0] + (f" (+{more})" if more > 0 else "")
    if source.kind == "feed":
        return source.url or ""
    return str(source.path)


def source_states(app: App) -> list[SourceStatus]:
    """Every configured source with its last run, failure streak and last error."""
    db = app.store.sources
    out = []
    for source in app.config.sources:
        state = db.state(source.name)
        out.append(
            SourceStatus(
                name=source.name,
                kind=source.kind,
                enabled=source.enabled,
                target=_target(source),
                alert_after=source.alert_after,
                last_run_at=state.last_run_at if state else None,
                last_ok_at=state.last_ok_at if state else None,
                consecutive_failures=state.consecutive_failures if state else 0,
                last_error=state.last_error if state else None,
                last_counts=state.last_counts if state else None,
                failing=bool(state and state.consecutive_failures >= source.alert_after),
            )
        )
    return out


def failing_sources(app: App) -> list[SourceStatus]:
    """Enabled sources that failed ``alert_after`` runs in a row."""
    return [s for s in source_states(app) if s.enabled and s.failing]


class SourcesFailing(TgfeedError):
    """Raised after a crawl by the scheduler's job so that its alert fires."""


def check_sources(app: App, names: Iterable[str]) -> None:
    """Raise SourcesFailing when any of ``names`` has failed ``alert_after`` runs in a row.

    The crawl itself never raises for a source's failure (the others must run);
    a scheduled crawl job calls this afterwards so a source that keeps failing
    makes the job fail, which records it and emails ``admin.alert_to``.
    """
    wanted = set(names)
    bad = [s for s in failing_sources(app) if s.name in wanted]
    if bad:
        detail = "; ".join(
            f"{s.name}: {s.consecutive_failures} failed runs in a row, last: {s.last_error}"
            for s in bad
        )
        raise SourcesFailing(
            f"source(s) failing: {detail}",
            hint="see `tgfeed sources`; fix the source or its config, then `tgfeed crawl NAME`",
        )

"""The Vietnamese web console under ``/admin/`` (session login) and the
monitoring JSON at ``/admin/status`` (bearer token, or a console session)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from . import (
    dashboard,
    digest,
    digest_actions,
    login,
    schedule,
    sources,
    status,
    subscribers,
    users,
)


def routes() -> list[BaseRoute]:
    out: list[BaseRoute] = []
    for module in (
        status,
        login,
        dashboard,
        subscribers,
        sources,
        schedule,
        digest,
        digest_actions,
        users,
    ):
        out.extend(module.routes())
    return out


__all__ = ["routes"]

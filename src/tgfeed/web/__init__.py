"""The web app (Starlette): each concern contributes routes from its own module."""

from __future__ import annotations

from .server import create_app

__all__ = ["create_app"]

"""Commands of the feeds concern."""

from __future__ import annotations

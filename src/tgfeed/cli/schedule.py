"""Commands of the schedule concern."""

from __future__ import annotations

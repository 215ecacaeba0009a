"""Commands of the sources concern."""

from __future__ import annotations

"""Commands of the subscribers concern."""

from __future__ import annotations

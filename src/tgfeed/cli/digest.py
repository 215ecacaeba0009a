"""Commands of the digest concern."""

from __future__ import annotations

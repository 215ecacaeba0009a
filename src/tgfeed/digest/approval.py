"""Pure helpers of editorial approval: the deadline, what an approver token names,
and which configured approver an address (a console account's) is.

An approver token (purpose ``approve``) carries one 63-bit subject: the ISO week
(``year * 100 + week``) in the high bits and a CRC-32 of the approver's address in
the low 32, so a link is bound to one week and one approver.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..config import parse_deadline


def next_deadline(spec: str, after: datetime, tz: ZoneInfo) -> datetime:
    """The first moment ``spec`` ("Mon 11:00", local time) strictly after ``after``."""
    weekday, hour, minute = parse_deadline(spec)
    local = after.astimezone(tz)
    day = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    day += timedelta(days=(weekday - local.weekday()) % 7)
    if day <= local:
        day += timedelta(days=7)
    return day.astimezone(after.tzinfo)


def address_code(address: str) -> int:
    return zlib.crc32(address.strip().lower().encode("utf-8")) & 0xFFFFFFFF


def approver_subject(week: str, address: str) -> int:
    year, _, number = week.partition("-W")
    return ((int(year) * 100 + int(number)) << 32) | address_code(address)


def read_subject(subject: int) -> tuple[str, int]:
    """(week key, address code) of an approver token's subject."""
    packed = subject >> 32
    return f"{packed // 100:04d}-W{packed % 100:02d}", subject & 0xFFFFFFFF


def approver_for(code: int, approvers: list[str]) -> str | None:
    """The configured approver whose address has ``code``."""
    for address in approvers:
        if address_code(address) == code:
            return address
    return None


def approver_of(address: str | None, approvers: Sequence[str]) -> str | None:
    """The configured approver ``address`` is (compared like the token's code: spaces
    trimmed, case ignored), or None — None too for no address at all."""
    if not address:
        return None
    wanted = address.strip().lower()
    return next((a for a in approvers if a.strip().lower() == wanted), None)

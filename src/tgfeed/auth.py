"""Accounts of the web console, without I/O: password hashing (scrypt, from the
standard library), what each role may do, and the signed session cookie value.

A password hash reads ``scrypt$16384$8$1$<salt>$<hash>`` (base64url): the cost
travels with the hash, so raising it later still verifies the old ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Literal

from .errors import TgfeedError
from .model import ROLES, Role

SCRYPT_N = 2**14  # 16 MiB of memory per hash with r = 8
SCRYPT_R = 8
SCRYPT_P = 1
PASSWORD_MIN = 10
NAME_PATTERN = "letters, digits, '.', '_' or '-' (2 to 40)"

Permission = Literal[
    "read",  # every screen except user management
    "digest.test",  # test send of the week's digest to one's own address
    "digest.approve",  # approve or reject a week's draft
    "digest.resend",  # resend a sent week (failed rows, new subscribers, one address)
    "subscribers.write",  # add, import, unsubscribe
    "jobs.run",  # run now, crawl now
    "schedule.write",  # edit [schedule]
    "users",  # user management and the audit trail
]

ALLOWED: dict[Role, frozenset[Permission]] = {
    "admin": frozenset(
        (
            "read",
            "digest.test",
            "digest.approve",
            "digest.resend",
            "subscribers.write",
            "jobs.run",
            "schedule.write",
            "users",
        )
    ),
    "editor": frozenset(("read", "digest.test", "digest.approve")),
    "viewer": frozenset(("read",)),
}

ROLE_NAMES: dict[str, str] = {
    "admin": "Quản trị",
    "editor": "Biên tập",
    "viewer": "Chỉ xem",
}


class AccountError(TgfeedError):
    """A user name, role or password that cannot be used."""


def allowed(role: str, permission: Permission) -> bool:
    return role in ALLOWED and permission in ALLOWED[role]


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}", hint="roles: " + ", ".join(ROLES))
    return role


def check_name(name: str) -> str:
    name = name.strip()
    ok = 2 <= len(name) <= 40 and all(c.isalnum() or c in "._-" for c in name)
    if not ok or not name[0].isalnum():
        raise AccountError(f"{name!r} is not a user name", hint=f"use {NAME_PATTERN}")
    return name


def check_password(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise AccountError(
            f"the password is too short ({len(password)} characters)",
            hint=f"use at least {PASSWORD_MIN} characters; a passphrase of a few words is best",
        )
    return password


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 * 2**20
    )
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``; a missing or malformed hash is False
    (after the same work, so a missing account takes as long as a wrong password)."""
    try:
        scheme, n, r, p, salt, digest = (stored or "").split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        params = int(n), int(r), int(p)
        want = _unb64(digest)
        raw_salt = _unb64(salt)
    except ValueError:
        hash_password(password)  # the same cost as a real check
        return False
    got = hashlib.scrypt(
        password.encode("utf-8"),
        salt=raw_salt,
        n=params[0],
        r=params[1],
        p=params[2],
        maxmem=64 * 2**20,
        dklen=len(want),
    )
    return hmac.compare_digest(got, want)


def new_token() -> str:
    """A random session id or CSRF token (32 bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


def sign_cookie(key: bytes, session_id: str) -> str:
    mac = hmac.new(key, session_id.encode("ascii"), hashlib.sha256).digest()[:16]
    return f"{session_id}.{_b64(mac)}"


def read_cookie(key: bytes, value: str | None) -> str | None:
    """The session id of a cookie whose signature matches, else None."""
    if not value or value.count(".") != 1:
        return None
    session_id, _, mac = value.partition(".")
    try:
        session_id.encode("ascii")
    except UnicodeEncodeError:
        return None
    expected = sign_cookie(key, session_id).partition(".")[2]
    return session_id if hmac.compare_digest(mac.encode(), expected.encode()) else None

"""Signed, expiring, URL-safe tokens for confirmation, unsubscribe and approval links.

A token is 40 URL-safe characters: base64url of ``version | purpose | subject id |
expiry`` (14 bytes) followed by the first 16 bytes of their HMAC-SHA256. Every
token has the same length, so a message built once with a placeholder can have
each recipient's token substituted without moving a single line break.

The key comes from ``[security] secret_env`` / ``secret_file``; without either, a
random key is generated on first run into ``<data_dir>/secret.key`` (mode 0600).
Changing the key invalidates every link already sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from .config import Config, read_secret
from .errors import ConfigError, TokenError

log = logging.getLogger(__name__)

Purpose = Literal["confirm", "unsubscribe", "approve"]
# "approve": an approver's link to a week's draft (subject: see jobs.digest_approval).
_PURPOSES: dict[str, int] = {"confirm": 1, "unsubscribe": 2, "approve": 3}
_VERSION = 1
_PAYLOAD = struct.Struct(">BBQI")  # version, purpose, subject id, expiry (unix seconds)
_MAC_BYTES = 16
TOKEN_LENGTH = 40  # base64url of 14 + 16 bytes, no padding
_SHAPE = re.compile(r"^[A-Za-z0-9_-]{40}$")
KEY_FILE = "secret.key"


class Signer:
    """Signs and verifies tokens with one key (pure: ``now`` is passed in)."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ConfigError("security: the signing key is too short (16 bytes at least)")
        self._key = key

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def sign(self, purpose: Purpose, subject: int, expires_at: datetime) -> str:
        """A token for ``subject`` (a subscriber id) valid until ``expires_at``."""
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be aware")
        if not 0 <= subject < 2**63:
            raise ValueError(f"subject id out of range: {subject}")
        expiry = max(0, min(int(expires_at.timestamp()), 2**32 - 1))
        payload = _PAYLOAD.pack(_VERSION, _PURPOSES[purpose], subject, expiry)
        return base64.urlsafe_b64encode(payload + self._mac(payload)).decode("ascii")

    def issue(self, purpose: Purpose, subject: int, *, now: datetime, max_age: int) -> str:
        return self.sign(purpose, subject, now + timedelta(seconds=max_age))

    def verify(self, token: str, purpose: Purpose, *, now: datetime) -> int:
        """The subject id of a valid token; TokenError when forged, malformed or expired."""
        if not isinstance(token, str) or not _SHAPE.match(token):
            raise TokenError("the link is incomplete or malformed", reason="invalid")
        try:
            raw = base64.urlsafe_b64decode(token)
        except (binascii.Error, ValueError):
            raise TokenError("the link is malformed", reason="invalid") from None
        payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise TokenError("the link's signature does not match", reason="invalid")
        version, code, subject, expiry = _PAYLOAD.unpack(payload)
        if version != _VERSION or code != _PURPOSES[purpose]:
            raise TokenError(f"the link is not a {purpose} link", reason="invalid")
        if now.timestamp() > expiry:
            expired = datetime.fromtimestamp(expiry, UTC).isoformat(timespec="seconds")
            raise TokenError(f"the link expired at {expired}", reason="expired")
        return int(subject)


def placeholder() -> str:
    """A stand-in of exactly a token's length, substituted per recipient."""
    return "TGFEEDTOKEN" + "x" * (TOKEN_LENGTH - 11)


def load_key(config: Config) -> bytes:
    """The signing key: from secret_env / secret_file, else ``<data_dir>/secret.key``."""
    sec = config.security
    secret = read_secret(
        sec.secret_env,
        config.resolve(sec.secret_file) if sec.secret_file else None,
        "security.secret",
    )
    if secret is not None:
        if len(secret) < 16:
            raise ConfigError(
                "security.secret: the secret is shorter than 16 characters",
                hint="use a long random value, e.g. `python -c 'import secrets; "
                "print(secrets.token_hex(32))'`",
            )
        return hashlib.sha256(secret.encode("utf-8")).digest()
    return _key_file(config.data_dir / KEY_FILE)


def _key_file(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = _create_key_file(path)
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the signing key: {exc.strerror}",
            hint="check its permissions, or set [security] secret_env",
        ) from exc
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(
            f"{path}: not a hex key",
            hint="delete it to generate a new one (old links stop working)",
        ) from None
    if len(key) < 16:
        raise ConfigError(f"{path}: the key is too short", hint="delete it to generate a new one")
    return key


def _create_key_file(path: Path) -> str:
    """Write a new key beside ``path`` and hard-link it into place: the key file
    appears whole or not at all, so a process racing us never reads half of it."""
    text = secrets.token_hex(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process won the race: use its key
            return path.read_text(encoding="ascii").strip()
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot create the signing key: {exc.strerror}",
            hint="make the data folder writable, or set [security] secret_env",
        ) from exc
    log.info("generated a new signing key in %s", path)
    return text

"""The configuration's building blocks: durations, checked strings, secrets read from
the environment or a file, and the base of every section (see ``config``)."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

from .defaults import DEFAULT_DATA_DIR as DEFAULT_DATA_DIR
from .defaults import DEFAULT_FILE as DEFAULT_FILE
from .defaults import ENV_VAR as ENV_VAR
from .errors import ConfigError
from .private import check_private

# Keys that would hold a secret in clear text; each must be given as *_env / *_file.
SECRET_KEYS = {"password", "token", "secret", "api_token", "admin_token", "key"}

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | int) -> int:
    """``"15m"`` → 900 seconds; an int is taken as seconds."""
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        return value
    m = _DURATION.match(value)
    if not m:
        raise ValueError(f"not a duration like 30s, 15m, 6h, 1d: {value!r}")
    return int(m[1]) * _DURATION_UNITS[m[2]]


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value.rstrip("/")


def _check_tz(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {value!r} (use an IANA name like Asia/Ho_Chi_Minh)"
        ) from None
    return value


_EMAIL = re.compile(
    r"^[^@\s<>\"',;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)


def _check_email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value) or "\r" in value or "\n" in value:
        raise ValueError(f"not an email address: {value!r}")
    return value


def _check_network(value: str) -> str:
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(
            f"not an IP address or CIDR like 127.0.0.1 or 10.0.0.0/8: {value!r}"
        ) from None
    return value.strip()


Url = Annotated[str, AfterValidator(_check_url)]
TimeZone = Annotated[str, AfterValidator(_check_tz)]
Email = Annotated[str, AfterValidator(_check_email)]


def _duration(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


Duration = Annotated[int, BeforeValidator(_duration), Field(ge=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Section):
    """Where a secret comes from: an environment variable or a file."""

    env: str | None = None
    file: Path | None = None


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# Names that are shown in messages: the usual upper-case form, not too long. Anything
# else that is set as *_env may be the secret itself, pasted by mistake.
_SHOWN_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")


def read_secret(env: str | None, file: Path | None, what: str) -> str | None:
    """The secret named by ``*_env`` / ``*_file``; None when neither is set."""
    if env:
        if not _ENV_NAME.fullmatch(env):  # maybe the secret itself: never repeat it
            raise ConfigError(
                f"{what}_env: is not the name of an environment variable "
                "(the value is not shown: it may be the secret itself)",
                hint=f"put the secret in a variable, e.g. TGFEED_X, and set {what}_env = "
                '"TGFEED_X"',
            )
        value = os.environ.get(env)
        if value is None:
            if not _SHOWN_NAME.fullmatch(env):  # e.g. a pasted token: do not repeat it
                raise ConfigError(
                    f"{what}: the environment variable named by {what}_env is not set "
                    "(the name is not shown: it looks like a secret, not a variable name)",
                    hint=f'{what}_env must name a variable, e.g. "TGFEED_X"; export it',
                )
            raise ConfigError(
                f"{what}: environment variable {env} is not set",
                hint=f"export {env}=… before starting tgfeed",
            )
        return value.strip()
    if file:
        check_private(file, f"{what}_file")
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"{what}: cannot read {file}: {exc.strerror}",
                hint="check the path and its permissions",
            ) from exc
    return None


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _format_loc(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif "[" in item or item.startswith("function-"):
            continue  # pydantic's validator tags, not config keys
        else:
            # A key that is not a bare TOML key is shown quoted, escapes and all, so a
            # message stays one printable line whatever the file holds.
            key = item if _BARE_KEY.fullmatch(item) else json.dumps(item)
            parts.append(("." if parts else "") + key)
    return "".join(parts) or "(top level)"


def describe_error(err: Any) -> str:
    loc = tuple(err["loc"])
    key = str(loc[-1]) if loc else ""
    if err["type"] == "extra_forbidden":
        if key in SECRET_KEYS:
            return (
                f"{_format_loc(loc)}: secrets never go in the TOML; "
                f"use {key}_env (environment variable) or {key}_file"
            )
        return f"{_format_loc(loc)}: unknown key (check its spelling and section)"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    if err["type"] == "missing":
        msg = "required key is missing"
    elif err["type"].endswith("_type") or err["type"].endswith("_parsing"):
        msg = f"{msg} (got {err['input']!r})"
    return f"{_format_loc(loc)}: {msg}"

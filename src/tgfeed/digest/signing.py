"""DKIM signing of a built message (dkimpy): its own module, so that what only
builds or checks messages and addresses (``message``) does not load dkimpy and
its DNS resolver."""

from __future__ import annotations

from dataclasses import dataclass

import dkim  # type: ignore[import-untyped]

from ..errors import ConfigError

SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
)
# Signed once more than they occur (RFC 6376 §8.15, "oversigning"): a copy of one
# of them added on the way — a second From in front — breaks the signature.
OVERSIGNED = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)


@dataclass(frozen=True, slots=True)
class DkimKey:
    domain: str
    selector: str
    private_key: bytes

    def sign(self, message: bytes) -> bytes:
        """The message with a ``DKIM-Signature`` header in front (relaxed/relaxed)."""
        try:
            header = dkim.sign(
                message,
                self.selector.encode("ascii"),
                self.domain.encode("ascii"),
                self.private_key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=[*SIGNED_HEADERS, *OVERSIGNED],
                linesep=b"\r\n",
            )
        except dkim.DKIMException as exc:
            raise ConfigError(
                f"mail.dkim: cannot sign: {exc}",
                hint="check mail.dkim.key_file (a PEM RSA or Ed25519 private key)",
            ) from exc
        return bytes(header) + message

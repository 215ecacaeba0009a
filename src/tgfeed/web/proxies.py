"""Who the client is: ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed only
from the peers listed in ``[web] trusted_proxies`` (addresses or CIDRs; none by
default, so a direct client can never choose its own address).

From a trusted peer, ``X-Forwarded-For`` is read from the right: each hop that is
itself a trusted proxy is skipped, and the first (rightmost) one that is not is
the client — the address the last trusted proxy saw. Hops to its left were
written by the client and are ignored. That address becomes ``request.client``,
so the subscribe rate limit counts real clients, not the proxy.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=16)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":")[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(addr, "ipv4_mapped", None)
    return mapped or addr


def _trusted(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None, nets: Sequence[Network]
) -> bool:
    return addr is not None and any(addr in net for net in nets)


def client_address(peer: str, forwarded_for: str, proxies: Sequence[str]) -> str:
    """The real client's address: ``peer`` unless it is a trusted proxy, then the
    rightmost hop of ``forwarded_for`` that is not (a malformed hop: the proxy)."""
    nets = _networks(tuple(proxies))
    if not _trusted(_address(peer), nets):
        return peer
    hops = [h for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        addr = _address(hop)
        if addr is None:
            return peer
        if not _trusted(addr, nets):
            return str(addr)
    first = _address(hops[0]) if hops else None
    return str(first) if first is not None else peer


class TrustedProxies:
    """ASGI middleware: rewrite the scope's client and scheme from a trusted proxy's
    headers; ignore the headers from anyone else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("client"):
            app: Any = scope.get("app")
            proxies = tuple(app.state.tgfeed.current.config.web.trusted_proxies)
            peer = scope["client"][0]
            if proxies and _trusted(_address(peer), _networks(proxies)):
                headers = [(k.lower(), v.decode("latin-1")) for k, v in scope["headers"]]
                xff = ",".join(v for k, v in headers if k == b"x-forwarded-for")
                scope = dict(scope, client=(client_address(peer, xff, proxies), 0))
                proto = [v for k, v in headers if k == b"x-forwarded-proto"]
                scheme = proto[-1].split(",")[-1].strip().lower() if proto else ""
                if scheme in ("http", "https"):
                    scope["scheme"] = (
                        scheme if scope["type"] == "http" else scheme.replace("http", "ws")
                    )
        await self.app(scope, receive, send)

"""Client IP resolution: `X-Forwarded-For` is believed only when it comes through trusted proxies.

One rule for everything that needs the caller's address (login and movement limits, audit
IPs, the `/metrics` loopback rule): start at the TCP peer; while the address at hand is a
trusted proxy, step one entry left in `X-Forwarded-For` (the address that proxy saw). The
first address that is not a trusted proxy is the client. A header sent by anyone else is
ignored, so a caller cannot choose the IP it is counted or audited under.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from server.config import ConfigError

log = logging.getLogger("bank.net")

type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
type IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDED_FOR = "x-forwarded-for"
# A request with a longer chain is not worth walking: nobody runs 32 proxies in a row.
MAX_HOPS = 32


@runtime_checkable
class MultiHeaders(Protocol):
    """Headers that may repeat a name (Starlette's `Headers`)."""

    def getlist(self, key: str) -> list[str]:
        """Return every value of a header, in order."""
        ...


class TrustedProxies:
    """A parsed `TRUSTED_PROXIES` list: single addresses and CIDR networks."""

    __slots__ = ("networks",)

    def __init__(self, networks: Iterable[IPNetwork]) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(networks)

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        return any(address in network for network in self.networks)

    def __bool__(self) -> bool:
        return bool(self.networks)


def parse_trusted_proxies(entries: Iterable[str]) -> TrustedProxies:
    """Parse IPs and CIDRs (`10.0.0.5`, `10.0.0.0/8`, `fd00::/8`); ConfigError on a bad one."""
    return _parse_cached(tuple(entry.strip() for entry in entries if entry.strip()))


@lru_cache(maxsize=16)
def _parse_cached(entries: tuple[str, ...]) -> TrustedProxies:
    networks: list[IPNetwork] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ConfigError(f"TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR") from exc
    for network in list(networks):
        # A proxy that reaches us over IPv6 may show its IPv4 address mapped (::ffff:a.b.c.d).
        if isinstance(network, ipaddress.IPv4Network):
            mapped = f"::ffff:{network.network_address}/{96 + network.prefixlen}"
            networks.append(ipaddress.IPv6Network(mapped))
    return TrustedProxies(networks)


def parse_ip(text: str | None) -> IPAddress | None:
    """Parse one address as it appears in a peer or a forwarded header; None if it is not one.

    Accepts `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443` and a zone-less
    IPv4-mapped IPv6 address, which is returned as the IPv4 address it carries.
    """
    if not text:
        return None
    value = text.strip().strip('"')
    if value.startswith("["):
        if "]" not in value:
            return None
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def forwarded_chain(headers: MultiHeaders | Mapping[str, str]) -> list[str]:
    """Return the `X-Forwarded-For` entries, left (original client) to right (nearest proxy)."""
    if isinstance(headers, MultiHeaders):
        values = headers.getlist(FORWARDED_FOR)
    else:
        values = [value for key, value in headers.items() if key.lower() == FORWARDED_FOR]
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def resolve_client_ip(
    peer: str | None,
    headers: MultiHeaders | Mapping[str, str],
    trusted: TrustedProxies | Iterable[str],
) -> str | None:
    """Return the client's IP: the peer, or what trusted proxies in front of it forwarded.

    `peer` is the TCP peer (`request.client.host`), `headers` the request headers and
    `trusted` the `TRUSTED_PROXIES` setting (raw strings or parsed). Walking right to left,
    the first entry that is not a trusted proxy is the client; an entry that is not an IP
    address ends the walk at the last trusted hop, which is the last address we can vouch
    for. With no trusted proxies, or a peer that is not one, the header is ignored.
    """
    proxies = trusted if isinstance(trusted, TrustedProxies) else parse_trusted_proxies(trusted)
    current = parse_ip(peer)
    if current is None:
        return peer or None
    if not proxies or current not in proxies:
        return str(current)
    chain = forwarded_chain(headers)[-MAX_HOPS:]
    for entry in reversed(chain):
        hop = parse_ip(entry)
        if hop is None:
            break
        current = hop
        if current not in proxies:
            break
    return str(current)


UNKNOWN_PROXY = (
    "this server is behind a proxy on its own host (a request from loopback carried "
    "X-Forwarded-For) but TRUSTED_PROXIES is empty, so every client would look like "
    "127.0.0.1; set TRUSTED_PROXIES=127.0.0.1 (nginx on this host) or your proxies' addresses"
)


class UnknownProxyGuard:
    """In production without TRUSTED_PROXIES, answer 503 to forwarded requests from loopback.

    A proxy on the same host makes every client 127.0.0.1: one lockout counter for all of
    them, every audit IP the same, and /metrics for anyone. Rather than serve that, the
    server refuses such requests and says, in its log, which setting fixes it (at most once
    a minute). Requests without X-Forwarded-For (a health check on the host) are served.
    """

    LOG_EVERY_SECONDS = 60.0

    def __init__(self, app: Any) -> None:
        self.app = app
        self._logged = -self.LOG_EVERY_SECONDS

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self._forwarded_from_loopback(scope):
            now = time.monotonic()
            if now - self._logged >= self.LOG_EVERY_SECONDS:
                self._logged = now
                log.error("bank-server: %s", UNKNOWN_PROXY)
            await self._refuse(send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _forwarded_from_loopback(scope: Any) -> bool:
        client = scope.get("client")
        peer = parse_ip(client[0] if client else None)
        if peer is None or not peer.is_loopback:
            return False
        return any(name.lower() == b"x-forwarded-for" for name, _ in scope.get("headers", []))

    @staticmethod
    async def _refuse(send: Any) -> None:
        body = json.dumps({"detail": UNKNOWN_PROXY, "code": "service_unavailable"}).encode()
        await send({
            "type": "http.response.start", "status": 503,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": body})

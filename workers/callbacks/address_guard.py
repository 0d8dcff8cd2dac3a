"""The SSRF guard: a callback URL must reach the public internet, not runq's own network.

Checked when a job is submitted and again right before each delivery, because DNS can
change in between (a name that resolved to a public address at submit may point at
169.254.169.254 an hour later). The delivery resolves the name once, checks every address,
and connects to the address it checked (`pin_callback_url`): resolving again to connect
would let a name answer a public address to the check and 127.0.0.1 to the connection
(DNS rebinding). Redirects are never followed, for the same reason.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from workers.errors import CallbackRefused


@dataclass(frozen=True, slots=True)
class PinnedTarget:
    """Where one delivery goes: the URL's name (for Host, TLS SNI and the certificate
    check) and the one checked address the connection must use."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def check_callback_url(url: str, *, allow_private: bool) -> None:
    """Raise CallbackRefused unless `url` is http(s) and every address it resolves to is
    public (or `allow_private`, for tests and trusted networks)."""
    pin_callback_url(url, allow_private=allow_private)


def pin_callback_url(url: str, *, allow_private: bool) -> PinnedTarget:
    """Resolve `url`'s host once, check every address, and return the target pinned to the
    first one; CallbackRefused if any address is not public (unless `allow_private`)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackRefused(f"callback URL {url!r} must be an http(s) URL with a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise CallbackRefused(f"callback URL {url!r} has a bad port: {exc}") from exc
    addresses = _resolve(parts.hostname, port)
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise CallbackRefused(
                    f"callback URL host {parts.hostname!r} resolves to {address}, which is not "
                    "a public address (loopback, private, link-local, multicast and reserved "
                    "addresses are refused unless RUNQ_CALLBACK_ALLOW_PRIVATE=true)"
                )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return PinnedTarget(parts.scheme, parts.hostname, port, path, addresses[0])


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackRefused(f"callback URL host {host!r} does not resolve: {exc}") from exc
    # The resolver's order, duplicates dropped: it puts first what this host can reach (an
    # IPv4-only worker gets the IPv4 address first; sorted text would put IPv6 first).
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise CallbackRefused(f"callback URL host {host!r} resolves to no address")
    return addresses

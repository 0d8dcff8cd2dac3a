"""The SSRF guard: a callback URL must reach the public internet, not runq's own network.

Checked when a job is submitted and again right before each delivery, because DNS can
change in between (a name that resolved to a public address at submit may point at
169.254.169.254 an hour later). Redirects are never followed, for the same reason.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from workers.errors import CallbackRefused


def check_callback_url(url: str, *, allow_private: bool) -> None:
    """Raise CallbackRefused unless `url` is http(s) and every address it resolves to is
    public (or `allow_private`, for tests and trusted networks)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackRefused(f"callback URL {url!r} must be an http(s) URL with a host")
    if allow_private:
        return
    for address in _resolve(parts.hostname, parts.port):
        if not is_public_address(address):
            raise CallbackRefused(
                f"callback URL host {parts.hostname!r} resolves to {address}, which is not a "
                "public address (loopback, private, link-local, multicast and reserved "
                "addresses are refused unless RUNQ_CALLBACK_ALLOW_PRIVATE=true)"
            )


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


def _resolve(host: str, port: int | None) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackRefused(f"callback URL host {host!r} does not resolve: {exc}") from exc
    return sorted({str(info[4][0]) for info in infos})

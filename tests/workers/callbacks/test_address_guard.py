"""The SSRF guard: only public addresses, unless private ones are explicitly allowed."""

from __future__ import annotations

import pytest

from workers.callbacks.address_guard import check_callback_url, is_public_address
from workers.errors import CallbackRefused


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700::6810:84e5", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
    ],
)
def test_only_global_unicast_addresses_are_public(address, public):
    assert is_public_address(address) is public


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.5/hook",
    ],
)
def test_private_targets_are_refused_without_the_flag(url):
    with pytest.raises(CallbackRefused, match="not a public address"):
        check_callback_url(url, allow_private=False)
    check_callback_url(url, allow_private=True)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "http:///nohost"])
def test_non_http_urls_are_refused_even_with_the_flag(url):
    with pytest.raises(CallbackRefused, match="http"):
        check_callback_url(url, allow_private=True)


def test_a_host_that_does_not_resolve_is_refused():
    with pytest.raises(CallbackRefused, match="does not resolve"):
        check_callback_url("http://no-such-host.invalid/hook", allow_private=False)


def test_the_pinned_address_is_the_resolvers_first_not_the_first_in_text_order(monkeypatch):
    # An IPv4-only worker gets the IPv4 address first from its resolver; sorted as text,
    # "2001:…" came before "93.…" and every callback to a dual-stack host went to IPv6.
    import socket

    from workers.callbacks.address_guard import pin_callback_url

    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:2800:21f:cb07::1", port, 0, 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    target = pin_callback_url("https://hooks.example.com/runq", allow_private=False)
    assert target.address == "93.184.215.14"

"""``bot.netutil``: who counts as this machine, by peer address and by ``Host`` header."""

from __future__ import annotations

import pytest

from bot.netutil import is_loopback, is_loopback_authority, is_loopback_host


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.1", False),
        ("10.0.0.1", False),
        ("localhost", False),  # an address, not a name
        ("", False),
        (None, False),
        ("not an address", False),
    ],
)
def test_is_loopback(remote: str | None, expected: bool) -> None:
    assert is_loopback(remote) is expected


@pytest.mark.parametrize(
    ("authority", "expected"),
    [
        ("127.0.0.1", True),
        ("127.0.0.1:3978", True),
        ("localhost", True),
        ("localhost:3978", True),
        ("LocalHost.:3978", True),
        ("[::1]", True),
        ("[::1]:3978", True),
        ("[::ffff:127.0.0.1]:3978", True),
        ("::1", False),  # IPv6 without brackets is not a Host header
        ("[::1", False),
        ("[::1]x", False),
        ("127.0.0.1:port", False),
        ("127.0.0.1:3978:1", False),
        ("127.0.0.1:１２３", False),
        ("10.0.0.7:3978", False),
        ("evil.example", False),
        ("127.0.0.1.nip.io", False),
        ("localhost.evil.example", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback_authority(authority: str | None, expected: bool) -> None:
    assert is_loopback_authority(authority) is expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("LocalHost.", True),
        ("127.0.0.1", True),
        ("[::1]", True),
        ("::1", True),
        ("localhost.evil.example", False),
        ("10.0.0.7", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback_host(host: str | None, expected: bool) -> None:
    assert is_loopback_host(host) is expected

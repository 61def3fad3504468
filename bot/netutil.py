"""Loopback checks shared by the parts of the app that answer this machine only.

Kept free of web and Bot Framework imports, so the dashboard and the playground can use it
without pulling in the Teams edge.
"""

from __future__ import annotations

import ipaddress


def is_loopback(remote: str | None) -> bool:
    """True for a loopback peer address, IPv4-mapped IPv6 (``::ffff:127.0.0.1``) included."""
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def is_loopback_authority(authority: str | None) -> bool:
    """True for a ``Host`` header naming this machine: ``localhost`` or a loopback IP literal,
    with or without a port (``127.0.0.1:3978``, ``[::1]:3978``, ``localhost``).

    Any other name could be made to point at 127.0.0.1 by its owner (DNS rebinding), so a
    browser page from elsewhere could reach us through it: such names are refused.
    """
    if not authority:
        return False
    text = authority.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return False
        host, rest = text[1:end], text[end + 1 :]
        if rest and not (rest.startswith(":") and _is_port(rest[1:])):
            return False
    else:
        host, _, port = text.partition(":")
        if port and not _is_port(port):
            return False
    return is_loopback_host(host)


def is_loopback_host(host: str | None) -> bool:
    """True for localhost (with or without the root's dot) and loopback IP literals ([::1] too)."""
    if not host:
        return False
    return host.lower().rstrip(".") == "localhost" or is_loopback(host.strip("[]"))


def _is_port(text: str) -> bool:
    return text == "" or (text.isascii() and text.isdigit() and len(text) <= 5)

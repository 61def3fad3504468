"""The shared HTTP clients for outgoing calls, and which URLs they may call.

The SSL context honours the usual CA-bundle variables (``SSL_CERT_FILE``, else
``REQUESTS_CA_BUNDLE``, the one msal/requests reads), so a private or test CA is trusted
the same way for aiohttp as for msal.
"""

from __future__ import annotations

import os
import ssl
from urllib.parse import urlsplit

import aiohttp

from bot.netutil import is_loopback_host
from bot.teams.outbound.keepalive import KeepAliveHttp

USER_AGENT = "maebashi-teams-bot/0.1"


def ca_bundle_from_env() -> str | None:
    """The CA bundle named by ``SSL_CERT_FILE`` or ``REQUESTS_CA_BUNDLE`` (None: system store)."""
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        value = os.environ.get(name)
        if value:
            return value
    return None


def client_ssl_context() -> ssl.SSLContext:
    """A verifying client SSL context built from the environment's CA bundle."""
    return ssl.create_default_context(cafile=ca_bundle_from_env())


def make_http_session(
    *, total_connections: int = 100, per_host: int = 32, timeout_s: float = 15.0
) -> aiohttp.ClientSession:
    """The shared session for Graph calls; create once, inside the loop."""
    connector = aiohttp.TCPConnector(
        ssl=client_ssl_context(), limit=total_connections, limit_per_host=per_host, ttl_dns_cache=300
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout_s, connect=5.0),
        headers={"User-Agent": USER_AGENT},
        raise_for_status=False,
        cookie_jar=aiohttp.DummyCookieJar(),  # Bot Connector and Graph use tokens, never cookies
    )


def make_connector_http(*, per_origin: int = 32, timeout_s: float = 15.0) -> KeepAliveHttp:
    """The keep-alive client for Bot Connector calls; create once, inside the loop."""
    return KeepAliveHttp(
        client_ssl_context(), user_agent=USER_AGENT, per_origin=per_origin, timeout_s=timeout_s
    )


def is_allowed_service_url(url: str) -> bool:
    """https anywhere; plain http only to a loopback host (local mode, emulator, stand-ins)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if not parts.hostname or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and is_loopback_host(parts.hostname)

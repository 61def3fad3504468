"""Bot Connector calls: retries on 429/5xx/connection errors, pacing, URL safety, encoding."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import socket
import statistics

import pytest

from bot.teams.outbound import (
    ConnectorClient,
    KeepAliveHttp,
    RateLimits,
    RetryPolicy,
    SendLimiter,
    TokenProvider,
    make_connector_http,
)
from bot.teams.outbound.retry import parse_retry_after
from tests.harness.fake_connector import FakeConnector
from tests.outbound.conftest import Metrics

ACTIVITY = {"type": "message", "text": "hi"}
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.05, max_delay_s=0.2)
NOW = dt.datetime(2026, 11, 25, 1, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("1", 1.0),
        ("0", 0.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("Wed, 25 Nov 2026 01:00:07 GMT", 7.0),
        ("Wed, 25 Nov 2026 00:59:00 GMT", 0.0),  # in the past: go now
        (None, None),
        ("", None),
        ("soon", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=lambda: NOW) == expected


def test_backoff_is_full_jitter_and_bounded() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay_s=1.0, max_delay_s=5.0, random=lambda lo, hi: hi)
    assert [policy.delay(n, None) for n in range(1, 7)] == [1.0, 2.0, 4.0, 5.0, 5.0, None]
    assert RetryPolicy(random=lambda lo, hi: lo).delay(1, None) == 0.0
    assert policy.delay(1, 3.0) == 3.0
    assert policy.delay(1, 600.0) is None  # too long to hold a worker


def make_client(
    http: KeepAliveHttp, tokens: TokenProvider, metrics: Metrics | None = None, **kwargs: object
) -> ConnectorClient:
    return ConnectorClient(
        http,
        tokens.get_token,
        retry=kwargs.pop("retry", FAST_RETRY),  # type: ignore[arg-type]
        calls_counter=metrics.calls if metrics else None,
        retries_counter=metrics.retries if metrics else None,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_429_is_retried_after_retry_after(
    connector: FakeConnector, http: KeepAliveHttp, tokens: TokenProvider, metrics: Metrics
) -> None:
    connector.fail_next(429, 1, retry_after=1)
    result = await make_client(http, tokens, metrics).send_to_conversation(
        connector.service_url, "c1", ACTIVITY
    )
    assert result.ok and result.attempts == 2
    first, second = connector.requests
    assert [first.status, second.status] == [429, 201]
    assert second.at - first.at >= 1.0
    assert second.at - first.at < 1.8
    assert metrics.value("outgoing_calls_total", status="429") == 1
    assert metrics.value("outgoing_calls_total", status="201") == 1
    assert metrics.value("outgoing_retries_total", reason="429") == 1


async def test_429_with_http_date_retry_after(
    connector: FakeConnector, http: KeepAliveHttp, tokens: TokenProvider
) -> None:
    # Whole seconds only in an HTTP date: ask for 2 s ahead so at least 1 s is left.
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    connector.fail_next(429, 1, retry_after=when.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    result = await make_client(http, tokens).send_to_conversation(connector.service_url, "c1", ACTIVITY)
    assert result.ok
    first, second = connector.requests
    assert second.at - first.at >= 0.9


async def test_503_is_retried_with_backoff(
    connector: FakeConnector, http: KeepAliveHttp, tokens: TokenProvider, metrics: Metrics
) -> None:
    connector.fail_next(503, 2)
    result = await make_client(http, tokens, metrics).send_to_conversation(
        connector.service_url, "c1", ACTIVITY
    )
    assert result.ok and result.attempts == 3
    assert [r.status for r in connector.requests] == [503, 503, 201]
    assert metrics.value("outgoing_retries_total", reason="503") == 2


@pytest.mark.parametrize("status", [412, 502, 504])
async def test_other_transient_statuses_are_retried(
    status: int, connector: FakeConnector, http: KeepAliveHttp, tokens: TokenProvider
) -> None:
    connector.fail_next(status, 1)
    result = await make_client(http, tokens).send_to_conversation(connector.service_url, "c1", ACTIVITY)
    assert result.ok and result.attempts == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 500])
async def test_answers_are_not_retried(
    status: int, connector: FakeConnector, http: KeepAliveHttp, tokens: TokenProvider
) -> None:
    connector.fail_next(status, 1)
    result = await make_client(http, tokens).send_to_conversation(connector.service_url, "c1", ACTIVITY)
    assert result.status == status and result.attempts == 1 and not result.ok
    assert len(connector.requests) == 1


async def test_attempts_are_bounded(
    connector: FakeConnector, http: KeepAliveHttp, tokens: TokenProvider
) -> None:
    connector.fail_next(503, 100)
    result = await make_client(http, tokens).send_to_conversation(connector.service_url, "c1", ACTIVITY)
    assert result.status == 503 and not result.ok
    assert len(connector.requests) == FAST_RETRY.max_attempts


async def test_connection_errors_are_retried_then_given_up(
    http: KeepAliveHttp, tokens: TokenProvider, metrics: Metrics
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await make_client(http, tokens, metrics).send_to_conversation(
        f"https://127.0.0.1:{port}/", "c", ACTIVITY
    )
    assert result.status is None and result.attempts == FAST_RETRY.max_attempts
    assert metrics.value("outgoing_retries_total", reason="connection") == FAST_RETRY.max_attempts - 1


@pytest.mark.parametrize(
    "service_url",
    ["http://smba.example.com/amer/", "ftp://127.0.0.1/", "https://user:pw@smba.example.com/", "not a url"],
)
async def test_unsafe_service_urls_are_never_called(
    service_url: str, http: KeepAliveHttp, tokens: TokenProvider, metrics: Metrics
) -> None:
    result = await make_client(http, tokens, metrics).send_to_conversation(service_url, "c", ACTIVITY)
    assert result.status is None and result.error == "untrusted service url"
    assert metrics.value("outgoing_calls_total", status="refused_url") == 1


async def test_trusted_service_url_hook(
    connector: FakeConnector, http: KeepAliveHttp, tokens: TokenProvider
) -> None:
    client = make_client(http, tokens, is_trusted_service_url=lambda url: False)
    result = await client.send_to_conversation(connector.service_url, "c", ACTIVITY)
    assert result.error == "untrusted service url" and connector.requests == []


async def test_conversation_ids_are_url_encoded(
    connector: FakeConnector, http: KeepAliveHttp, tokens: TokenProvider
) -> None:
    conversation = "19:abc/def?x#y@thread.tacv2;messageid=1700000000000"
    client = make_client(http, tokens)
    await client.send_to_conversation(connector.service_url, conversation, ACTIVITY)
    await client.reply_to_activity(connector.service_url, conversation, "1700000000000", ACTIVITY)
    send, reply = connector.requests
    # Characters that would change the URL's structure stay encoded (yarl may unescape the
    # harmless ones such as ":" and ";", which is equivalent on the wire).
    assert "19:abc%2Fdef%3Fx%23y" in send.raw_path.replace("%3A", ":")
    assert send.raw_path.endswith("/activities") and send.raw_path.count("/") == 4
    assert send.conversation_id == conversation and send.query == {}
    assert reply.activity_id == "1700000000000" and reply.body["replyToId"] == "1700000000000"


async def test_per_conversation_pacing_without_holding_up_others(
    connector: FakeConnector, http: KeepAliveHttp, tokens: TokenProvider
) -> None:
    await tokens.get_token()  # keep the one-off token fetch out of the timing
    client = make_client(http, tokens, limiter=SendLimiter(RateLimits()))  # the production 7/s
    burst = [client.send_to_conversation(connector.service_url, "busy", ACTIVITY) for _ in range(8)]
    other = [client.send_to_conversation(connector.service_url, "quiet", ACTIVITY) for _ in range(1)]
    started = asyncio.get_running_loop().time()
    await asyncio.gather(*burst, *other)
    busy = sorted(r.at for r in connector.requests if r.conversation_id == "busy")
    quiet = [r.at for r in connector.requests if r.conversation_id == "quiet"]
    gaps = [b - a for a, b in itertools.pairwise(busy)]
    assert statistics.mean(gaps) >= (1 / 7) * 0.95
    assert busy[-1] - busy[0] >= 7 * (1 / 7) * 0.95
    assert quiet[0] - started < 0.3  # not queued behind the busy conversation


def test_limiter_memory_is_bounded() -> None:
    limiter = SendLimiter(RateLimits(max_conversations=100))
    for i in range(1000):
        limiter.reserve(f"conv-{i}")
    assert len(limiter) == 100


def test_global_cap_applies_across_conversations() -> None:
    clock = [0.0]
    limiter = SendLimiter(RateLimits(global_rate=10, global_burst=2), clock=lambda: clock[0])
    delays = [limiter.reserve(f"c{i}") for i in range(5)]
    assert delays == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3])


async def test_the_given_limiter_and_retry_policy_are_kept() -> None:
    """An unused SendLimiter is empty (falsy); it must not be swapped for the default one."""
    limiter = SendLimiter(RateLimits(global_rate=1234.0, global_burst=1234.0))
    retry = RetryPolicy(max_attempts=2)
    http = make_connector_http()
    try:
        client = ConnectorClient(http, None, limiter=limiter, retry=retry)
        assert client.limiter is limiter
        assert client.retry is retry
    finally:
        await http.close()


async def test_sends_share_one_connection_and_survive_a_connector_restart(
    connector: FakeConnector, http: KeepAliveHttp, tokens: TokenProvider, metrics: Metrics
) -> None:
    """Keep-alive to the real (aiohttp) stand-in over TLS; a restart closes it, nothing is lost."""
    client = make_client(http, tokens, metrics)
    for _ in range(3):
        assert (await client.send_to_conversation(connector.service_url, "c1", ACTIVITY)).ok
    assert http.open_connections == 1
    port = connector.port
    await connector.stop()  # closes the kept connection, as a connector deployment would
    await connector.start(port)
    result = await client.send_to_conversation(connector.service_url, "c1", ACTIVITY)
    assert result.ok and result.attempts == 1  # a fresh connection, not a retry with backoff
    assert len(connector.activity_posts()) == 4
    assert metrics.value("outgoing_retries_total", reason="connection") == 0

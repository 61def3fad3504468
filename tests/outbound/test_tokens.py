"""Outgoing tokens: real msal over HTTPS against the Entra stand-in, cached and single-flight."""

from __future__ import annotations

import asyncio

import certifi
import pytest

from bot.teams.outbound import GRAPH_SCOPE, ConnectorClient, KeepAliveHttp, TokenError, TokenProvider
from bot.teams.outbound.tokens import default_authority
from tests.harness.entra import EntraStandIn
from tests.harness.fake_connector import FakeConnector
from tests.outbound.conftest import APP_ID, APP_SECRET

ACTIVITY = {"type": "message", "text": "hello"}


@pytest.mark.parametrize(
    ("tenant", "login_url", "expected"),
    [
        (None, None, "https://login.microsoftonline.com/botframework.com"),
        ("contoso-tenant", None, "https://login.microsoftonline.com/contoso-tenant"),
        (
            "t1",
            "https://login.microsoftonline.us/MicrosoftServices.onmicrosoft.com",
            "https://login.microsoftonline.us/MicrosoftServices.onmicrosoft.com",
        ),
        ("t1", "https://login.microsoftonline.us/{tenant}", "https://login.microsoftonline.us/t1"),
        (None, "https://login.example.jp/botframework.com/", "https://login.example.jp/botframework.com"),
    ],
)
def test_default_authority(tenant: str | None, login_url: str | None, expected: str) -> None:
    assert default_authority(tenant, login_url) == expected


async def test_real_msal_fetches_a_token_over_https(entra: EntraStandIn, tokens: TokenProvider) -> None:
    token = await tokens.get_token()
    assert entra.is_valid(token, "https://api.botframework.com/.default")
    assert entra.successful_token_requests() == 1
    assert [r.tenant for r in entra.token_requests] == ["botframework.com"]


async def test_concurrent_callers_share_one_token_request(entra: EntraStandIn) -> None:
    entra.response_delay_s = 0.3
    provider = TokenProvider(APP_ID, APP_SECRET, authority=entra.authority())
    try:
        results = await asyncio.gather(*(provider.get_token() for _ in range(25)))
    finally:
        provider.close()
    assert len(set(results)) == 1
    assert entra.successful_token_requests() == 1


async def test_a_caller_giving_up_does_not_cancel_the_shared_fetch(entra: EntraStandIn) -> None:
    entra.response_delay_s = 0.3
    provider = TokenProvider(APP_ID, APP_SECRET, authority=entra.authority())
    try:
        impatient = asyncio.create_task(provider.get_token())
        patient = asyncio.create_task(provider.get_token())
        await asyncio.sleep(0.1)
        impatient.cancel()
        token = await patient
    finally:
        provider.close()
    assert entra.is_valid(token)
    assert entra.successful_token_requests() == 1


async def test_token_fetch_does_not_block_the_event_loop(entra: EntraStandIn, tokens: TokenProvider) -> None:
    entra.response_delay_s = 0.4
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.create_task(ticker())
    await tokens.get_token()
    task.cancel()
    assert ticks >= 10  # the loop kept running while msal waited on the network


async def test_one_token_request_for_many_sends(
    entra: EntraStandIn, connector: FakeConnector, http: KeepAliveHttp, tokens: TokenProvider
) -> None:
    client = ConnectorClient(http, tokens.get_token)
    results = await asyncio.gather(
        *(client.send_to_conversation(connector.service_url, f"conv-{i}", ACTIVITY) for i in range(30))
    )
    assert all(r.ok for r in results)
    assert entra.successful_token_requests() == 1
    assert {r.bearer for r in connector.requests} == {await tokens.get_token()}


async def test_token_refreshed_shortly_before_expiry(entra: EntraStandIn) -> None:
    # 301 s lifetime and the default 5-minute margin: the token is due for refresh after ~1 s.
    entra.expires_in = 301
    provider = TokenProvider(APP_ID, APP_SECRET, authority=entra.authority())
    try:
        first = await provider.get_token()
        assert await provider.get_token() == first
        assert entra.successful_token_requests() == 1
        await asyncio.sleep(1.2)
        second = await provider.get_token()
    finally:
        provider.close()
    assert second != first
    assert entra.successful_token_requests() == 2
    assert entra.is_valid(second)


async def test_wrong_secret_is_an_error_and_nothing_is_sent(
    entra: EntraStandIn, connector: FakeConnector, http: KeepAliveHttp
) -> None:
    provider = TokenProvider(APP_ID, "wrong", authority=entra.authority())
    try:
        with pytest.raises(TokenError, match="invalid_client"):
            await provider.get_token()
        result = await ConnectorClient(http, provider.get_token).send_to_conversation(
            connector.service_url, "conv", ACTIVITY
        )
    finally:
        provider.close()
    assert not result.ok and result.status is None
    assert connector.requests == []
    assert [r.status for r in entra.token_requests] == [401, 401]


async def test_untrusted_certificate_is_refused(entra: EntraStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    # With only the public roots, the stand-in's certificate must not be accepted.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    provider = TokenProvider(APP_ID, APP_SECRET, authority=entra.authority())
    try:
        with pytest.raises(TokenError):
            await provider.get_token()
    finally:
        provider.close()
    assert entra.token_requests == []


async def test_graph_scope_token(entra: EntraStandIn) -> None:
    provider = TokenProvider(
        APP_ID,
        APP_SECRET,
        tenant="maebashi-tenant",
        authority=entra.authority("maebashi-tenant"),
        scope=GRAPH_SCOPE,
    )
    try:
        token = await provider.get_token()
    finally:
        provider.close()
    assert entra.is_valid(token, GRAPH_SCOPE)
    assert entra.token_requests[0].tenant == "maebashi-tenant"


async def test_local_mode_sends_no_authorization(http: KeepAliveHttp) -> None:
    async with FakeConnector(tls=False) as fake:
        result = await ConnectorClient(http, None).send_to_conversation(fake.service_url, "conv", ACTIVITY)
    assert result.ok
    assert "Authorization" not in fake.requests[0].headers


async def test_user_assigned_managed_identity(
    entra: EntraStandIn,
    connector: FakeConnector,
    http: KeepAliveHttp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # App Service publishes its identity endpoint in these variables; msal reads them.
    monkeypatch.setenv("IDENTITY_ENDPOINT", entra.managed_identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", entra.identity_header)
    provider = TokenProvider(APP_ID, "", managed_identity=True)
    try:
        client = ConnectorClient(http, provider.get_token)
        results = [await client.send_to_conversation(connector.service_url, "c", ACTIVITY) for _ in range(3)]
    finally:
        provider.close()
    assert all(r.ok for r in results)
    assert [(r.tenant, r.scope, r.status) for r in entra.token_requests] == [
        ("managed_identity", "https://api.botframework.com/.default", 200)
    ]


def test_local_mode_is_no_provider() -> None:
    with pytest.raises(ValueError):
        TokenProvider("", "")

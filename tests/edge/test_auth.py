"""Every way a request can fail authentication gets a 401 (or 403 for the tenant) with a short
JSON body, never a 5xx; and a good token is accepted and validated once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.edge.conftest import RunningBot, bot_settings, make_activity, start_bot, stop_bot
from tests.harness.openid_server import OTHER_TENANT_ID, OpenIdStandIn

# (case, how to build the Authorization header, activity overrides, expected status, reason)
REFUSED: list[tuple[str, Any, dict[str, Any], int, str]] = [
    ("no header", None, {}, 401, "missing_header"),
    ("empty header", "", {}, 401, "missing_header"),
    ("basic scheme", "Basic dXNlcjpwYXNz", {}, 401, "malformed_header"),
    ("bearer without token", "Bearer ", {}, 401, "malformed_header"),
    ("three parts", "Bearer abc def", {}, 401, "malformed_header"),
    ("not a jwt", "Bearer not.a.jwt", {}, 401, "malformed_token"),
    ("garbage", "Bearer %%%%", {}, 401, "malformed_token"),
    ("expired", dict(expires_in=-3600), {}, 401, "expired"),
    ("not yet valid", dict(not_before_in=3600), {}, 401, "not_yet_valid"),
    ("unknown key", dict(key="unknown"), {}, 401, "unknown_key"),
    ("unknown kid", dict(kid="kid-nobody-knows"), {}, 401, "unknown_key"),
    ("kid of another key", dict(key="unknown", kid="kid-endorsed"), {}, 401, "bad_signature"),
    ("wrong issuer", dict(issuer="https://evil.example"), {}, 401, "wrong_issuer"),
    ("wrong audience", dict(audience="00000000-0000-0000-0000-000000000000"), {}, 401, "wrong_audience"),
    ("no exp", dict(without=("exp",)), {}, 401, "missing_claim"),
    ("no aud", dict(without=("aud",)), {}, 401, "missing_claim"),
    ("HS256", "hs256", {}, 401, "algorithm_not_allowed"),
    ("wrong serviceurl", dict(service_url="https://evil.example/"), {}, 401, "wrong_service_url"),
    ("no serviceurl claim", dict(without=("serviceurl",)), {}, 401, "wrong_service_url"),
    ("unendorsed channel", dict(key="unendorsed"), {}, 401, "unendorsed_channel"),
    ("channel not endorsed", {}, {"channelId": "slack"}, 401, "unendorsed_channel"),
    (
        "tenant not allowed",
        {},
        {"channelData": {"tenant": {"id": OTHER_TENANT_ID}}, "conversation": {"id": "a:1"}},
        403,
        "tenant_not_allowed",
    ),
    ("tenant missing", {}, {"channelData": {}, "conversation": {"id": "a:1"}}, 403, "tenant_not_allowed"),
]


def _authorization(openid: OpenIdStandIn, spec: Any) -> str | None:
    if spec is None or (isinstance(spec, str) and spec != "hs256"):
        return spec
    if spec == "hs256":
        import jwt

        return "Bearer " + jwt.encode(
            {"aud": openid.app_id}, "s" * 32, algorithm="HS256", headers={"kid": "kid-endorsed"}
        )
    return openid.authorization(**spec)


@pytest.mark.parametrize(
    ("case", "auth", "overrides", "status", "reason"), REFUSED, ids=[row[0] for row in REFUSED]
)
async def test_refused(
    bot: RunningBot,
    openid: OpenIdStandIn,
    case: str,
    auth: Any,
    overrides: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    got_status, body = await bot.post(make_activity(**overrides), authorization=_authorization(openid, auth))
    assert (got_status, body["error"]) == (status, reason)
    assert body["message"]
    assert bot.handler.messages == []


async def test_valid_token_is_accepted_and_validated_once(bot: RunningBot, openid: OpenIdStandIn) -> None:
    header = openid.authorization()
    for number in range(3):
        status, _ = await bot.post(make_activity(id=f"17000000000{number}"), authorization=header)
        assert status == 200
    assert len(bot.handler.messages) == 3
    assert (openid.metadata_fetches, openid.jwks_fetches) == (1, 1)


async def test_unknown_kid_refreshes_keys_at_most_once_per_interval(openid: OpenIdStandIn) -> None:
    bot = await start_bot(bot_settings(openid, OPENID_REFRESH_MIN_INTERVAL_SECONDS=1), openid)
    try:
        assert (await bot.post(make_activity()))[0] == 200
        fetched = openid.jwks_fetches
        for kid in ("kid-a", "kid-b", "kid-c"):  # within the interval: no fetch at all
            assert (await bot.post(make_activity(), authorization=openid.authorization(kid=kid)))[0] == 401
        assert openid.jwks_fetches == fetched
        await asyncio.sleep(1.1)
        openid.publish("unknown")  # the channel rotates in a new key
        status, _ = await bot.post(make_activity(id="2"), authorization=openid.authorization(key="unknown"))
        assert status == 200
        assert openid.jwks_fetches == fetched + 1
        for kid in ("kid-d", "kid-e"):
            assert (await bot.post(make_activity(), authorization=openid.authorization(kid=kid)))[0] == 401
        assert openid.jwks_fetches == fetched + 1
    finally:
        await stop_bot(bot)


async def test_openid_outage_is_503_not_a_crash(bot: RunningBot, openid: OpenIdStandIn) -> None:
    openid.fail_with = 500
    status, body = await bot.post(make_activity())
    assert (status, body["error"]) == (503, "unavailable")


async def test_auth_failures_are_counted_by_reason(bot: RunningBot, openid: OpenIdStandIn) -> None:
    await bot.post(make_activity(), authorization=None)
    await bot.post(make_activity(), authorization=openid.authorization(expires_in=-3600))
    _, text = await bot.get("/metrics")
    assert 'auth_failures_total{reason="missing_header"} 1.0' in text
    assert 'auth_failures_total{reason="expired"} 1.0' in text

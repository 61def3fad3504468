"""Property: whatever a client sends to /api/messages (generated and mutated activities, bodies
and headers, with and without a valid token), the answer is never a 5xx and the server logs no
unhandled exception."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.edge.conftest import BOT_ID, bot_settings, make_activity, start_bot, stop_bot
from tests.harness.openid_server import SERVICE_URL, TENANT_ID, OpenIdStandIn

json_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = [
    "type",
    "id",
    "name",
    "text",
    "from",
    "recipient",
    "conversation",
    "channelData",
    "serviceUrl",
    "channelId",
    "value",
    "attachments",
    "entities",
    "membersAdded",
    "membersRemoved",
    "replyToId",
    "action",
    "timestamp",
    "locale",
]
NESTED = {
    "conversation": ["id", "conversationType", "tenantId", "isGroup"],
    "channelData": ["tenant", "team", "channel", "eventType"],
    "from": ["id", "role", "aadObjectId", "name"],
    "value": ["action", "trigger"],
}
# RFC 9110 field-value characters: visible ASCII, space, tab and obs-text (sent as latin-1)
header_values = st.text(
    alphabet=st.characters(codec="latin-1", exclude_categories=["Cc"]) | st.sampled_from(" \t"), max_size=60
).map(str.strip)
TYPES = [
    "message",
    "messageUpdate",
    "messageDelete",
    "conversationUpdate",
    "installationUpdate",
    "invoke",
    "event",
    "typing",
]


@st.composite
def activities(draw: st.DrawFn) -> dict[str, Any]:
    activity = make_activity(draw(st.sampled_from(["channel", "groupChat", "personal"])))
    activity["id"] = draw(st.text(min_size=1, max_size=8))  # mostly fresh ids: exercise handling, not dedupe
    activity["type"] = draw(st.sampled_from(TYPES) | st.text(max_size=10))
    if activity["type"] == "invoke":
        activity["name"] = "adaptiveCard/action"
        activity["value"] = {
            "action": {"type": "Action.Execute", "verb": draw(st.text(max_size=8)), "data": {}}
        }
    if draw(st.booleans()):
        activity["membersAdded"] = [{"id": BOT_ID}, {"id": "29:x"}]
    for _ in range(draw(st.integers(0, 4))):
        field = draw(st.sampled_from(FIELDS))
        operation = draw(st.sampled_from(["replace", "delete", "nested"]))
        if operation == "replace":
            activity[field] = draw(json_values)
        elif operation == "delete":
            activity.pop(field, None)
        elif isinstance(activity.get(field), dict) and field in NESTED:
            activity[field][draw(st.sampled_from(NESTED[field]))] = draw(json_values)
    return activity


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, dict[str, str], str]:
    activity = draw(activities())
    body = json.dumps(activity, allow_nan=True).encode()
    body_kind = draw(st.sampled_from(["json", "json", "json", "truncated", "bytes"]))
    if body_kind == "truncated":
        body = body[: draw(st.integers(0, len(body)))]
    elif body_kind == "bytes":
        body = draw(st.binary(max_size=200))
    content_type = draw(
        st.sampled_from(
            ["application/json", "application/json; charset=utf-8", "text/plain", "", "application/json;;"]
        )
    )
    service_url = activity.get("serviceUrl")
    auth = draw(
        st.sampled_from(["valid", "valid", "none", "garbage", "expired", "other-service", "unendorsed"])
    )
    return (
        body,
        {"Content-Type": content_type} if content_type else {},
        f"{auth}|{service_url if isinstance(service_url, str) else SERVICE_URL}",
    )


class BotInThread:
    """The real app (auth on) plus the OpenID stand-in, served from a background event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.openid: OpenIdStandIn = self._run(OpenIdStandIn().start())
        self.bot = self._run(start_bot(bot_settings(self.openid, ALLOWED_TENANT_IDS=TENANT_ID), self.openid))
        self.port = int(self.bot.url.rsplit(":", 1)[1])
        self.tokens: dict[str, str] = {}
        self.posted = 0
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def authorization(self, spec: str) -> str | None:
        auth, _, service_url = spec.partition("|")
        if auth == "none":
            return None
        if auth == "garbage":
            return "Bearer eyJhbGciOi.x.y"
        key = f"{auth}|{service_url}"
        if key not in self.tokens:
            options: dict[str, Any] = {"service_url": service_url}
            if auth == "expired":
                options["expires_in"] = -3600
            elif auth == "other-service":
                options["service_url"] = "https://evil.example/"
            elif auth == "unendorsed":
                options["key"] = "unendorsed"
            self.tokens[key] = self.openid.authorization(**options)
        return self.tokens[key]

    def post(self, body: bytes, headers: dict[str, str]) -> int:
        for attempt in range(2):
            try:
                self.connection.request("POST", "/api/messages", body=body, headers=headers)
                response = self.connection.getresponse()
                response.read()
                return response.status
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()
        self._run(stop_bot(self.bot))
        self._run(self.openid.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class ErrorRecorder(logging.Handler):
    """Collects log records at ERROR and above (unhandled exceptions end up there)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[BotInThread, ErrorRecorder]]:
    recorder = ErrorRecorder()
    logging.getLogger().addHandler(recorder)
    running = BotInThread()
    yield running, recorder
    running.close()
    print(f"fuzz: {running.posted} generated requests posted")
    logging.getLogger().removeHandler(recorder)


@settings(max_examples=350, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(batch=st.lists(requests(), min_size=1, max_size=8))
def test_no_request_gets_a_5xx(
    served: tuple[BotInThread, ErrorRecorder], batch: list[tuple[bytes, dict[str, str], str]]
) -> None:
    running, recorder = served
    recorder.records.clear()
    for body, headers, auth in batch:  # several per example: thousands of requests in a few seconds
        headers = dict(headers)
        authorization = running.authorization(auth)
        if authorization is not None:
            headers["Authorization"] = authorization
        status = running.post(body, headers)
        running.posted += 1
        assert status in {200, 400, 401, 403, 413, 415}, status
        assert not recorder.records, [record.getMessage() for record in recorder.records]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    authorization=header_values | st.just("Bearer ") | st.builds(lambda t: "Bearer " + t, header_values),
    content_type=header_values | st.builds(lambda t: "application/json;" + t, header_values),
)
def test_arbitrary_headers_never_crash(
    served: tuple[BotInThread, ErrorRecorder], authorization: str, content_type: str
) -> None:
    running, recorder = served
    headers = {"Authorization": authorization, "Content-Type": content_type}
    body = json.dumps(make_activity()).encode()
    recorder.records.clear()
    status = running.post(body, headers)
    assert status in {200, 400, 401, 403, 413, 415}, status
    assert not recorder.records, [record.getMessage() for record in recorder.records]
